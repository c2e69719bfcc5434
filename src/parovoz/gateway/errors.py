"""What an upstream raises when the service could not answer before the response started."""

from __future__ import annotations


class UpstreamError(Exception):
    """The service could not answer: 502 BAD_GATEWAY, 503 SERVICE_UNAVAILABLE or 504 GATEWAY_TIMEOUT."""

    def __init__(self, status: int, code: str, retry_after: int | None = None) -> None:
        super().__init__(f"{status} {code}")
        self.status = status
        self.code = code
        self.retry_after = retry_after


def bad_gateway() -> UpstreamError:
    return UpstreamError(502, "BAD_GATEWAY")


def gateway_timeout() -> UpstreamError:
    return UpstreamError(504, "GATEWAY_TIMEOUT")
