"""Where the gateway sends a routed request: a service's ASGI app in process, or a service over HTTP.

An `Upstream` is ASGI-shaped: `forward(scope, receive, send)` takes the (already rewritten) request
and streams the service's response to `send`. Failures before the response starts raise
`UpstreamError` (502/503/504), which the gateway renders in the contract's error format; a failure
after the response started can only cut the connection, which is how HTTP signals a truncated body.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpcore

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Any  # Callable[[], Awaitable[Message]]
Send = Any  # Callable[[Message], Awaitable[None]]
AsgiApp = Any  # Callable[[Scope, Receive, Send], Awaitable[None]]

# RFC 9110 §7.6.1: connection-specific headers never cross a proxy.
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
# Bodies up to this size are read whole and sent with a Content-Length: one write instead of a stream.
SMALL_BODY = 64 * 1024


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


class Upstream(Protocol):
    async def forward(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send the request in `scope`/`receive` to the service and stream its answer to `send`."""
        ...

    async def aclose(self) -> None:
        """Release pooled connections (called on gateway shutdown)."""
        ...


def strip_hop_by_hop(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """`headers` without hop-by-hop ones, including those a `Connection` header names."""
    named: set[bytes] = set()
    for name, value in headers:
        if name.lower() == b"connection":
            named.update(token.strip().lower() for token in value.split(b","))
    return [(n, v) for n, v in headers if n.lower() not in HOP_BY_HOP and n.lower() not in named]


class AsgiUpstream:
    """Embedded mode: call the service's ASGI app in process (no network, no serialization).

    `timeout` bounds the wait for the response to *start*; once headers are out the body may stream
    for as long as it needs (a large download must not be cut at an arbitrary total time).
    """

    def __init__(self, app: AsgiApp, *, timeout: float = 10.0) -> None:
        self.app = app
        self.timeout = timeout

    async def forward(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def send_and_note_start(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                deadline.reschedule(None)
            await send(message)

        try:
            async with asyncio.timeout(self.timeout) as deadline:
                await self.app(scope, receive, send_and_note_start)
        except TimeoutError:
            if started:
                raise
            raise gateway_timeout() from None

    async def aclose(self) -> None:
        return None


@dataclass
class CircuitBreaker:
    """After `threshold` consecutive connection failures, fail fast for `open_seconds`.

    A service that refuses connections would otherwise cost every caller a connect attempt; while
    open the gateway answers 503 + Retry-After at once. When the period ends, requests flow again
    and the first failure reopens it (the failure count stays at the threshold until a success).
    """

    threshold: int = 5
    open_seconds: float = 5.0
    failures: int = 0
    open_until: float = 0.0

    def check(self) -> None:
        if self.open_until:
            remaining = self.open_until - time.monotonic()
            if remaining > 0:
                raise UpstreamError(503, "SERVICE_UNAVAILABLE", retry_after=max(1, math.ceil(remaining)))
            self.open_until = 0.0

    def record_failure(self) -> None:
        self.failures += 1
        if self.failures >= self.threshold:
            self.open_until = time.monotonic() + self.open_seconds

    def record_success(self) -> None:
        self.failures = 0
        self.open_until = 0.0


class HttpUpstream:
    """Distributed mode: stream the request to `base_url` over pooled HTTP/1.1 keep-alive connections.

    Uses httpcore directly (the transport under httpx): raw byte headers pass through without the
    conversions httpx's models do, which is most of a proxy's per-request client cost.
    `timeout` bounds connection-pool waits, writes and each read (so a slow service is a 504, a
    long stream that keeps producing is not); `connect_timeout` bounds the TCP connect.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        connect_timeout: float = 1.0,
        max_connections: int = 512,
        failure_threshold: int = 5,
        open_seconds: float = 5.0,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"upstream base URL must be http(s)://host[:port][/path]: {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self._scheme = parts.scheme.encode("ascii")
        self._host = parts.hostname.encode("idna")
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._host_header = parts.netloc.encode("idna")
        self._base_path = parts.path.rstrip("/").encode("ascii")
        self._timeouts = {"connect": connect_timeout, "read": timeout, "write": timeout, "pool": timeout}
        self.breaker = CircuitBreaker(failure_threshold, open_seconds)
        self._pool = httpcore.AsyncConnectionPool(
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=30.0,
        )

    async def forward(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.breaker.check()
        target = self._base_path + (scope.get("raw_path") or scope["path"].encode("utf-8"))
        if scope.get("query_string"):
            target += b"?" + scope["query_string"]
        headers, content = await self._request_body(scope, receive)
        request = httpcore.Request(
            scope["method"].encode("ascii"),
            httpcore.URL(scheme=self._scheme, host=self._host, port=self._port, target=target),
            headers=headers,
            content=content,
            extensions={"timeout": self._timeouts},
        )
        try:
            response = await self._pool.handle_async_request(request)
        except httpcore.ConnectTimeout:
            self.breaker.record_failure()
            raise gateway_timeout() from None
        except httpcore.ConnectError:
            self.breaker.record_failure()
            raise bad_gateway() from None
        except httpcore.TimeoutException:
            raise gateway_timeout() from None
        except (httpcore.NetworkError, httpcore.RemoteProtocolError):
            # The connection was reset or closed without an answer: the service is crashing or gone.
            self.breaker.record_failure()
            raise bad_gateway() from None
        self.breaker.record_success()
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status,
                    "headers": strip_hop_by_hop(response.headers),
                }
            )
            async for chunk in response.stream:  # type: ignore[union-attr]
                if chunk:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await response.aclose()

    async def _request_body(
        self, scope: Scope, receive: Receive
    ) -> tuple[list[tuple[bytes, bytes]], bytes | AsyncIterator[bytes] | None]:
        """Upstream headers and body: whole bytes when small and sized, else a stream (chunked)."""
        length: int | None = None
        chunked = False
        headers: list[tuple[bytes, bytes]] = [(b"host", self._host_header)]
        for name, value in strip_hop_by_hop(scope["headers"]):
            if name == b"host":
                headers.append((b"x-forwarded-host", value))
                continue
            if name == b"content-length":
                length = int(value)
            headers.append((name, value))
        for name, value in scope["headers"]:
            if name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if length is None and not chunked:
            return headers, None
        if length is not None and length <= SMALL_BODY:
            return headers, await _read_whole(receive)
        if length is None:
            headers.append((b"transfer-encoding", b"chunked"))
        return headers, _body_stream(receive)

    async def aclose(self) -> None:
        await self._pool.aclose()


async def _read_whole(receive: Receive) -> bytes:
    parts: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(parts)


async def _body_stream(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        body = message.get("body", b"")
        if body:
            yield body
        if not message.get("more_body", False):
            return


class ClientDisconnected(Exception):
    """The client went away while its request body was being forwarded."""


async def fetch(upstream: Upstream, path: str, *, headers: list[tuple[bytes, bytes]] | None = None) -> tuple[
    int, list[tuple[bytes, bytes]], bytes
]:
    """GET `path` from a service through its upstream: (status, headers, body), for readyz and docs."""
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode("ascii"),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"gateway"), *(headers or [])],
        "client": ("127.0.0.1", 0),
        "server": ("127.0.0.1", 0),
    }
    status = 0
    response_headers: list[tuple[bytes, bytes]] = []
    body: list[bytes] = []
    request_sent = False

    async def receive() -> Message:
        nonlocal request_sent
        if request_sent:
            await asyncio.Event().wait()  # like a live client: no disconnect until the answer is read
        request_sent = True
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status, response_headers
        if message["type"] == "http.response.start":
            status = message["status"]
            response_headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            body.append(message.get("body", b""))

    await upstream.forward(scope, receive, send)
    return status, response_headers, b"".join(body)
