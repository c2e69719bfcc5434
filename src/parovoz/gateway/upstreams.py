"""Where the gateway sends a routed request: a service's ASGI app in process, or a service over HTTP.

An `Upstream` is ASGI-shaped: `forward(scope, receive, send)` takes the (already rewritten) request
and streams the service's response to `send`. Failures before the response starts raise
`UpstreamError` (502/503/504), which the gateway renders in the contract's error format; a failure
after the response started can only cut the connection, which is how HTTP signals a truncated body.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, Protocol
from urllib.parse import urlsplit

from parovoz.gateway.breaker import CircuitBreaker
from parovoz.gateway.errors import bad_gateway, gateway_timeout
from parovoz.gateway.http1 import (
    ConnectFailed,
    ConnectionLost,
    ConnectTimedOut,
    Http1Pool,
    ResponseTimedOut,
)

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


class Upstream(Protocol):
    async def forward(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send the request in `scope`/`receive` to the service and stream its answer to `send`."""
        ...

    async def aclose(self) -> None:
        """Release pooled connections (called on gateway shutdown)."""
        ...


def strip_hop_by_hop(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """`headers` without hop-by-hop ones, including those a `Connection` header names.

    Usually there are none: then `headers` itself is returned (callers do not mutate it), which
    saves building a copy of every header list on each hop.
    """
    for name, _ in headers:
        if name.lower() in HOP_BY_HOP:
            break
    else:
        return headers
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
        # A bare timer that cancels the task, not asyncio.timeout: that cost ~10 µs per request on
        # uvloop, a fifth of the gateway's own work. The cancel/uncancel bookkeeping mirrors it.
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        cancelling = task.cancelling()
        started = expired = False

        def expire() -> None:
            nonlocal expired
            expired = True
            task.cancel()

        deadline = loop.call_at(loop.time() + self.timeout, expire)

        async def send_and_note_start(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                deadline.cancel()
            await send(message)

        try:
            await self.app(scope, receive, send_and_note_start)
        except asyncio.CancelledError:
            if expired:
                expired = False
                if task.uncancel() <= cancelling:  # no one else asked to cancel: this is our timeout
                    raise gateway_timeout() from None
            raise
        except TimeoutError:
            if started:
                raise
            raise gateway_timeout() from None
        finally:
            deadline.cancel()
            if expired:  # the app swallowed our cancellation: take it back all the same
                task.uncancel()

    async def aclose(self) -> None:
        return None


class HttpUpstream:
    """Distributed mode: stream the request to `base_url` over pooled HTTP/1.1 keep-alive connections.

    `timeout` bounds the wait for the response head and each later read (so a slow service is a
    504, while a long download that keeps producing is not cut); `connect_timeout` bounds the TCP
    connect. See http1.py for why this is not httpx.
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
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"upstream base URL must be http://host[:port][/path]: {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self._host_header = parts.netloc.encode("idna")
        self._base_path = parts.path.rstrip("/").encode("ascii")
        self.breaker = CircuitBreaker(failure_threshold, open_seconds)
        self._pool = Http1Pool(
            parts.hostname,
            parts.port or 80,
            connect_timeout=connect_timeout,
            timeout=timeout,
            max_connections=max_connections,
        )

    async def forward(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.breaker.check()
        target = self._base_path + (scope.get("raw_path") or scope["path"].encode("utf-8"))
        if scope.get("query_string"):
            target += b"?" + scope["query_string"]
        headers, content = await self._request_body(scope, receive)
        try:
            response = await self._pool.request(scope["method"].encode("ascii"), target, headers, content)
        except ConnectTimedOut:
            self.breaker.record_failure()
            raise gateway_timeout() from None
        except (ConnectFailed, ConnectionLost):
            # Refused, reset or closed without an answer: the service is down, crashing or gone.
            self.breaker.record_failure()
            raise bad_gateway() from None
        except ResponseTimedOut:
            raise gateway_timeout() from None
        self.breaker.record_success()
        body = response.body
        try:
            headers = strip_hop_by_hop(response.headers)
            await send({"type": "http.response.start", "status": response.status, "headers": headers})
            whole = body.whole()
            if whole is not None:  # the usual small answer, complete already: a single body message
                await send({"type": "http.response.body", "body": whole, "more_body": False})
                return
            async for chunk in body:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            if not body.finished:  # read to its end already in the usual case: skip a coroutine
                await body.aclose()

    async def _request_body(
        self, scope: Scope, receive: Receive
    ) -> tuple[list[tuple[bytes, bytes]], bytes | AsyncIterator[bytes] | None]:
        """Upstream headers and body: whole bytes when small and sized, else a stream (chunked)."""
        headers, length, chunked, hop = self._upstream_headers(scope["headers"])
        if hop:  # rare: a `Connection` header may name more to drop, so go again over the stripped list
            headers, length, _, _ = self._upstream_headers(strip_hop_by_hop(scope["headers"]))
        if length is None and not chunked:
            return headers, None
        if length is not None and length <= SMALL_BODY:
            return headers, await _read_whole(receive)
        if length is None:
            headers.append((b"transfer-encoding", b"chunked"))
        return headers, _body_stream(receive)

    def _upstream_headers(
        self, source: list[tuple[bytes, bytes]]
    ) -> tuple[list[tuple[bytes, bytes]], int | None, bool, bool]:
        """(headers for the service, declared length, chunked?, any hop-by-hop seen?) in one pass."""
        length: int | None = None
        chunked = hop = False
        headers: list[tuple[bytes, bytes]] = [(b"host", self._host_header)]
        for name, value in source:
            if name.lower() in HOP_BY_HOP:
                hop = True
                if name == b"transfer-encoding" and b"chunked" in value.lower():
                    chunked = True
                continue
            if name == b"host":
                headers.append((b"x-forwarded-host", value))
                continue
            if name == b"content-length":
                length = int(value)
            headers.append((name, value))
        return headers, length, chunked, hop

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


async def fetch(
    upstream: Upstream, path: str, *, headers: list[tuple[bytes, bytes]] | None = None
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
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
