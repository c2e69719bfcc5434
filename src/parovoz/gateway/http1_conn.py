"""One keep-alive HTTP/1.1 client connection: an asyncio Protocol that parses answers with llhttp.

The response is parsed in `data_received` as bytes arrive; the waiting task is woken once the head
is complete and again as body chunks come, so a small answer (head and body in one segment) costs
the task a single wake-up. See http1.py for the pool around it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

import httptools

RawHeaders = list[tuple[bytes, bytes]]
_MAX_HEAD = 64 * 1024
# Body bytes buffered before the service's socket is paused until the client side catches up.
_HIGH_WATER = 256 * 1024
_LOW_WATER = 64 * 1024


class ConnectFailed(Exception):
    """The TCP connection could not be opened (refused, unreachable)."""


class ConnectTimedOut(Exception):
    """The TCP connection did not open in time."""


class ResponseTimedOut(Exception):
    """The service did not answer (or stopped sending) within the timeout."""


class ConnectionLost(Exception):
    """The service closed or reset the connection before the response was complete."""


class _HeadOnly(Exception):
    """Raised from the parser callback to stop at the head of a HEAD answer (see on_headers_complete)."""


class Connection(asyncio.Protocol):
    """State of the one response in flight on this connection (no pipelining)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, parser: Callable[[Any], Any], timeout: float) -> None:
        self.loop, self._new_parser, self._timeout = loop, parser, timeout
        self.parser = parser(self)
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.reusable = True
        self.status = 0
        self.headers: RawHeaders = []
        self.chunks: deque[bytes] = deque()
        self.error: Exception | None = None
        self.head_done = self.done = False
        self._head_size = self._buffered = 0
        self._head_only = self._needs_eof = self._read_paused = False
        self._waiter: asyncio.Future[None] | None = None
        self._drain: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._last_data = 0.0

    # -- the request ---------------------------------------------------------------------------

    async def exchange(
        self,
        method: bytes,
        target: bytes,
        headers: RawHeaders,
        body: bytes | AsyncIterator[bytes] | None,
    ) -> None:
        """Send the request and wait for the response head (interim 1xx answers are skipped)."""
        if self.closed or self.transport is None or self.transport.is_closing():
            raise ConnectionLost("closed while idle")
        self.headers, self.status, self.error = [], 0, None
        self.head_done = self.done = self._needs_eof = False
        self._head_size = self._buffered = 0
        self.chunks.clear()
        if self._read_paused:  # the last answer filled the buffer and was then taken whole
            self._read_paused = False
            self.transport.resume_reading()
        self._head_only = method == b"HEAD"
        fields = b"".join([name + b": " + value + b"\r\n" for name, value in headers])
        head = method + b" " + target + b" HTTP/1.1\r\n" + fields + b"\r\n"
        transport = self.transport
        try:
            if body is None or isinstance(body, bytes):
                transport.write(head + body if body else head)  # one write, one segment for small bodies
            else:
                transport.write(head)
                uses_chunked = any(n == b"transfer-encoding" for n, _ in headers)
                async for part in body:
                    if part:
                        transport.write(b"%x\r\n%b\r\n" % (len(part), part) if uses_chunked else part)
                        await self._drained()
                if uses_chunked:
                    transport.write(b"0\r\n\r\n")
                await self._drained()
            # The timeout counts from here: the request is out, the wait for the answer starts. (A
            # service may have answered in full while a streamed body was still being sent.)
            if not self.done:
                self._last_data = self.loop.time()
                self._timer = self.loop.call_at(self._last_data + self._timeout, self._on_timer)
            while not self.head_done:
                if self.error is not None:
                    raise self.error
                await self.wait()
        except BaseException:
            self.close()
            raise

    async def wait(self) -> None:
        """Until the parser has something new for the reader (head, body bytes, end or failure)."""
        self._waiter = self.loop.create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    def take(self) -> bytes:
        data = self.chunks.popleft()
        self._buffered -= len(data)
        if self._read_paused and self._buffered <= _LOW_WATER:
            self._read_paused = False
            if self.transport is not None and not self.transport.is_closing():
                self.transport.resume_reading()
        return data

    def close(self) -> None:
        self.reusable = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.transport is not None and not self.closed:
            self.transport.close()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, error: Exception) -> None:
        if self.error is None and not self.done:
            self.error = error
        self.close()
        self._wake()

    def _on_timer(self) -> None:
        self._timer = None
        if self.done or self.error is not None:
            return
        now = self.loop.time()
        due = self._last_data + self._timeout
        if self._read_paused:  # waiting on our own client, not on the service
            due = now + self._timeout
        if due > now:
            self._timer = self.loop.call_at(due, self._on_timer)
            return
        self._fail(ResponseTimedOut())

    async def _drained(self) -> None:
        if self._drain is not None:
            await self._drain

    # -- asyncio.Protocol ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._last_data = self.loop.time()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            if isinstance(exc.__context__, _HeadOnly):
                self.parser = self._new_parser(self)  # the old one expects a body that never comes
                return
            self._fail(ConnectionLost(repr(exc.__context__ or exc)))
        except httptools.HttpParserError as exc:
            self._fail(ConnectionLost(repr(exc)))

    def eof_received(self) -> bool | None:
        return None  # close the transport; connection_lost decides whether the answer was complete

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.reusable = False
        if self.head_done and self._needs_eof and not self.done and self.error is None:
            self._complete()  # a body delimited by the close has ended
        else:
            self._fail(ConnectionLost(repr(exc) if exc else "closed by the service"))
        drain, self._drain = self._drain, None
        if drain is not None and not drain.done():
            drain.set_result(None)

    def pause_writing(self) -> None:
        if self._drain is None:
            self._drain = self.loop.create_future()

    def resume_writing(self) -> None:
        drain, self._drain = self._drain, None
        if drain is not None and not drain.done():
            drain.set_result(None)

    # -- httptools callbacks ---------------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.head_done:
            return  # a chunked body's trailers: hop-by-hop by nature here, dropped
        self._head_size += len(name) + len(value)
        if self._head_size > _MAX_HEAD:
            raise ConnectionLost("response head too large")
        self.headers.append((name.lower(), value.strip()))

    def on_headers_complete(self) -> None:
        parser = self.parser
        status = parser.get_status_code()
        if 100 <= status < 200:  # an interim answer (100 Continue): the final one follows
            self.headers, self._head_size = [], 0
            return
        self.status, self.head_done = status, True
        if not parser.should_keep_alive():
            self.reusable = False
            self._needs_eof = status not in (204, 304) and not any(
                n in (b"content-length", b"transfer-encoding") for n, _ in self.headers
            )
        self._wake()
        if self._head_only:
            # llhttp cannot be told the request was HEAD, so it would wait for the announced body.
            self._complete()
            raise _HeadOnly

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)
        self._buffered += len(body)
        if self._buffered > _HIGH_WATER and not self._read_paused and self.transport is not None:
            self._read_paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self.head_done:
            self._complete()

    def _complete(self) -> None:
        self.done = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._wake()
