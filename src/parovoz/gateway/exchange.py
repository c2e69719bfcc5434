"""One request's plumbing in the gateway: response decoration, body counting, metric children."""

from __future__ import annotations

from typing import Any

from parovoz.chassis.errors import ApiError
from parovoz.chassis.obs.metrics import HTTP_LATENCY, HTTP_REQUESTS
from parovoz.chassis.rest.errors import render_error
from parovoz.gateway.edge import RawHeaders
from parovoz.gateway.upstreams import Message, Receive, Send

# Response headers the gateway owns; a service's copies are replaced, never duplicated (the
# gateway's own server adds `date`).
_GATEWAY_OWNED_RESPONSE = frozenset(
    {
        b"date",
        b"server",
        b"x-request-id",
        b"x-content-type-options",
        b"x-frame-options",
        b"referrer-policy",
        b"strict-transport-security",
        b"access-control-allow-origin",
        b"access-control-allow-credentials",
        b"access-control-expose-headers",
    }
)


class CachedHttpMetrics:
    """`observe_http` of chassis metrics with label children kept: `labels()` costs more than `inc()`."""

    def __init__(self) -> None:
        self._children: dict[tuple[str, str, str, int], tuple[Any, Any]] = {}

    def __call__(self, service: str, method: str, route: str, status: int, seconds: float) -> None:
        key = (service, method, route, status)
        children = self._children.get(key)
        if children is None:
            labels = (service, method, route, str(status))
            children = (HTTP_REQUESTS.labels(*labels), HTTP_LATENCY.labels(*labels))
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)


class BodyTooLarge(Exception):
    """The request body grew past the limit while being streamed."""


class BodyLimit:
    """A `receive` that counts body bytes (for chunked uploads that declare no Content-Length).

    Past the limit it raises into the upstream and mutes whatever the upstream answers, so the
    client gets the gateway's 413 rather than a service's reaction to a cut-off body.
    """

    __slots__ = ("count", "exceeded", "exchange", "limit", "receive")

    def __init__(self, receive: Receive, limit: int, exchange: Exchange) -> None:
        self.receive, self.limit, self.exchange = receive, limit, exchange
        self.count, self.exceeded = 0, False

    async def __call__(self) -> Message:
        message: Message = await self.receive()
        if message["type"] == "http.request":
            self.count += len(message.get("body", b""))
            if self.count > self.limit:
                self.exceeded = True
                if not self.exchange.started:
                    self.exchange.suppressed = True
                raise BodyTooLarge
        return message


class Exchange:
    """One request's response side: status seen, whether headers went out, headers to add."""

    __slots__ = ("extra", "send", "started", "status", "suppressed")

    def __init__(self, send: Send, extra: RawHeaders) -> None:
        self.send, self.extra = send, extra
        self.started, self.status, self.suppressed = False, 0, False

    async def __call__(self, message: Message) -> None:
        if self.suppressed:
            return  # the upstream answered a request the gateway already refused (413)
        if message["type"] == "http.response.start":
            headers = [h for h in message.get("headers", ()) if h[0].lower() not in _GATEWAY_OWNED_RESPONSE]
            await self._start(message["status"], headers)
            return
        await self.send(message)

    async def _start(self, status: int, headers: RawHeaders) -> None:
        self.started, self.status = True, status
        await self.send({"type": "http.response.start", "status": status, "headers": headers + self.extra})

    async def respond(self, status: int, headers: RawHeaders, body: bytes, *, head: bool = False) -> None:
        """A response of the gateway itself (its headers, CORS included, are not filtered)."""
        if not any(name == b"content-length" for name, _ in headers):
            headers = [*headers, (b"content-length", str(len(body)).encode("latin-1"))]
        await self._start(status, headers)
        await self.send({"type": "http.response.body", "body": b"" if head else body, "more_body": False})

    async def error(self, error: ApiError, language: str) -> None:
        status, headers, body = render_error(error, language)
        await self.respond(status, headers, body)
