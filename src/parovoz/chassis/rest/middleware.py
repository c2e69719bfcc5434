"""The one pure-ASGI middleware every service app runs behind (BaseHTTPMiddleware costs a task
and a copy per request; this costs a few dict operations).

Per HTTP request it: accepts or generates `X-Request-ID` and echoes it on every response (errors
and 500s included); sets `chassis.context` (request id, correlation id, language); refuses bodies
over the limit with 413, by `Content-Length` and by counting streamed chunks; turns an unhandled
exception into a 500 `INTERNAL_ERROR` without internals (logged with its traceback); adds security
headers; and records the request in the Prometheus metrics.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from parovoz.chassis import context
from parovoz.chassis.errors import ApiError
from parovoz.chassis.obs.logging import get_logger
from parovoz.chassis.obs.metrics import observe_http
from parovoz.chassis.rest.errors import negotiate_language, render_error

log = get_logger(__name__)

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"cross-origin-resource-policy", b"same-origin"),
)


def accepted_request_id(value: str | None) -> str:
    """The caller's `X-Request-ID` when it is sane (≤128 of `[A-Za-z0-9._:-]`), else a new UUID.

    A foreign id ends up in our logs and in other services' metadata: no spaces, quotes or newlines.
    """
    if value is not None and _REQUEST_ID.fullmatch(value):
        return value
    return str(uuid.uuid4())


class PayloadTooLarge(ApiError):
    def __init__(self, limit: int) -> None:
        super().__init__(413, "PAYLOAD_TOO_LARGE", params={"limit": limit})


def route_label(scope: Scope) -> str:
    """The matched route's template (low-cardinality metric label), never the raw path."""
    route = scope.get("route")
    return getattr(route, "path_format", None) or getattr(route, "path", None) or "unmatched"


class RequestMiddleware:
    def __init__(self, app: ASGIApp, *, service: str, max_body_bytes: int) -> None:
        self.app = app
        self.service = service
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started_at = time.perf_counter()
        headers = Headers(scope=scope)
        request_id = accepted_request_id(headers.get("x-request-id"))
        language = negotiate_language(headers.get("accept-language"))
        scope.setdefault("state", {})["request_id"] = request_id
        tokens = (
            context.request_id.set(request_id),
            context.correlation_id.set(request_id),
            context.language.set(language),
        )
        extra_headers = [(b"x-request-id", request_id.encode("latin-1")), *SECURITY_HEADERS]
        response: dict[str, Any] = {"started": False, "status": 500}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                response["started"], response["status"] = True, message["status"]
                present = {name.lower() for name, _ in message.get("headers", ())}
                added = [(n, v) for n, v in extra_headers if n not in present]
                message = {**message, "headers": [*message.get("headers", ()), *added]}
            await send(message)

        try:
            self._check_declared_length(headers.get("content-length"))
            await self.app(scope, self._limited(receive), send_with_headers)
        except Exception as exc:
            if response["started"]:
                log.exception("response_failed_midway", path=scope.get("path"))
                raise
            error = exc if isinstance(exc, ApiError) else ApiError(500, "INTERNAL_ERROR")
            if not isinstance(exc, ApiError):
                log.exception("unhandled_error", method=scope.get("method"), path=scope.get("path"))
            status, raw_headers, body = render_error(error, language)
            await send_with_headers({"type": "http.response.start", "status": status, "headers": raw_headers})
            await send_with_headers({"type": "http.response.body", "body": body})
        finally:
            elapsed = time.perf_counter() - started_at
            method, route = scope.get("method", ""), route_label(scope)
            observe_http(self.service, method, route, response["status"], elapsed)
            for var, token in zip(
                (context.request_id, context.correlation_id, context.language), tokens, strict=True
            ):
                var.reset(token)

    def _check_declared_length(self, declared: str | None) -> None:
        if declared is None:
            return
        if not declared.isdigit():
            raise ApiError(400, "BAD_REQUEST")
        if int(declared) > self.max_body_bytes:
            raise PayloadTooLarge(self.max_body_bytes)

    def _limited(self, receive: Receive) -> Receive:
        limit = self.max_body_bytes
        received = 0

        async def receive_limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise PayloadTooLarge(limit)
            return message

        return receive_limited
