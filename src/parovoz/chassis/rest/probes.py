"""A service's ASGI entry: liveness and readiness answered in plain ASGI, the rest by FastAPI.

Probes are hit every few seconds by orchestrators and by the gateway's own /readyz; answering them
before the framework keeps them at raw-ASGI cost (PERFORMANCE.md: /healthz ≥ 0.8× raw ASGI).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI

from parovoz.chassis.errors import ApiError
from parovoz.chassis.obs.logging import get_logger
from parovoz.chassis.rest.errors import negotiate_language, render_error
from parovoz.chassis.rest.middleware import SECURITY_HEADERS, accepted_request_id

log = get_logger(__name__)

_JSON = (b"content-type", b"application/json")
_HEALTHY = b'{"status":"ok"}'
_READY = b'{"status":"ready"}'


class ServiceApp:
    """`/healthz` and `/readyz` here; everything else (and every attribute) is the FastAPI app's."""

    def __init__(self, app: FastAPI, ready: Callable[[], Awaitable[bool]], service: str) -> None:
        self.fastapi = app
        self.ready = ready
        self.service = service

    def __getattr__(self, name: str) -> Any:
        return getattr(self.fastapi, name)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path")
        if scope["type"] == "http" and path in ("/healthz", "/readyz") and scope["method"] in ("GET", "HEAD"):
            await self._probe(path, scope, send)
            return
        await self.fastapi(scope, receive, send)

    async def _probe(self, path: str, scope: dict[str, Any], send: Any) -> None:
        request_id = language = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                request_id = value.decode("latin-1")
            elif name == b"accept-language":
                language = value.decode("latin-1")
        headers = [(b"x-request-id", accepted_request_id(request_id).encode("latin-1")), *SECURITY_HEADERS]
        status, body = 200, _HEALTHY
        if path == "/readyz":
            body = _READY
            if not await self._is_ready():
                unavailable = ApiError(503, "SERVICE_UNAVAILABLE", params={"service": self.service})
                status, error_headers, body = render_error(unavailable, negotiate_language(language))
                headers += error_headers
            else:
                headers.append(_JSON)
        else:
            headers.append(_JSON)
        if not any(name == b"content-length" for name, _ in headers):
            headers.append((b"content-length", str(len(body)).encode("latin-1")))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})

    async def _is_ready(self) -> bool:
        try:
            return await self.ready()
        except Exception:
            log.warning("readiness_check_failed", exc_info=True)
            return False
