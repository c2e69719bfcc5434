"""The gateway's HTTP/1.1 client against scripted loopback servers: framing, reuse, failures."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from parovoz.gateway.http1 import (
    ConnectFailed,
    ConnectionLost,
    Http1Pool,
    Response,
    ResponseTimedOut,
)

# A scripted server: given the connection's index and the raw request head, answers on `writer`.
Script = Callable[[int, bytes, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[bool]]


class ScriptedServer:
    """Reads request heads (and bodies) and lets `script` answer; counts connections and requests."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.connections = 0
        self.requests: list[tuple[bytes, bytes]] = []  # (head, body) as received
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> ScriptedServer:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        index = self.connections
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                body = await _read_body(head, reader)
                self.requests.append((head, body))
                if not await self.script(index, head, reader, writer):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def _read_body(head: bytes, reader: asyncio.StreamReader) -> bytes:
    lower = head.lower()
    if b"content-length:" in lower:
        length = int(lower.split(b"content-length:")[1].split(b"\r\n")[0])
        return await reader.readexactly(length)
    if b"transfer-encoding: chunked" in lower:
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            data = await reader.readexactly(size + 2)
            if size == 0:
                return body
            body += data[:-2]
    return b""


def answer(raw: bytes, *, keep_open: bool = True) -> Script:
    async def script(
        index: int, head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        writer.write(raw)
        await writer.drain()
        return keep_open

    return script


def pool(server: ScriptedServer, timeout: float = 2.0) -> Http1Pool:
    return Http1Pool("127.0.0.1", server.port, connect_timeout=1.0, timeout=timeout)


async def read_all(response: Response) -> bytes:
    parts = [chunk async for chunk in response.body]
    await response.body.aclose()
    return b"".join(parts)


HEADERS = [(b"host", b"svc")]
OK = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Padded:  spaced value \r\n"
    b"Content-Length: 5\r\n\r\nhello"
)


async def test_sized_response_and_keep_alive_reuse() -> None:
    async with ScriptedServer(answer(OK)) as server:
        p = pool(server)
        for _ in range(3):
            response = await p.request(b"GET", b"/x?q=1", HEADERS, None)
            assert response.status == 200
            assert (b"content-type", b"text/plain") in response.headers  # names lowercased
            assert (b"x-padded", b"spaced value") in response.headers  # values stripped
            assert await read_all(response) == b"hello"
        await p.aclose()
    assert server.connections == 1
    assert server.requests[0][0].startswith(b"GET /x?q=1 HTTP/1.1\r\nhost: svc\r\n")


async def test_chunked_response_with_trailers_is_decoded_and_reused() -> None:
    raw = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\nX-T: 1\r\n\r\n"
    )
    async with ScriptedServer(answer(raw)) as server:
        p = pool(server)
        for _ in range(2):
            assert await read_all(await p.request(b"GET", b"/", HEADERS, None)) == b"abcdefg"
        await p.aclose()
    assert server.connections == 1


async def test_close_delimited_response_is_read_to_eof_and_not_reused() -> None:
    raw = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end"
    async with ScriptedServer(answer(raw, keep_open=False)) as server:
        p = pool(server)
        for _ in range(2):
            assert await read_all(await p.request(b"GET", b"/", HEADERS, None)) == b"until the end"
        await p.aclose()
    assert server.connections == 2


async def test_connection_close_header_prevents_reuse() -> None:
    raw = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"
    async with ScriptedServer(answer(raw)) as server:
        p = pool(server)
        for _ in range(2):
            assert await read_all(await p.request(b"GET", b"/", HEADERS, None)) == b"ok"
        await p.aclose()
    assert server.connections == 2


@pytest.mark.parametrize(
    ("method", "raw"),
    [
        (b"HEAD", b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"),
        (b"GET", b"HTTP/1.1 204 No Content\r\n\r\n"),
        (b"GET", b"HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n"),
    ],
)
async def test_bodiless_responses_keep_the_connection(method: bytes, raw: bytes) -> None:
    async with ScriptedServer(answer(raw)) as server:
        p = pool(server)
        for _ in range(2):
            response = await p.request(method, b"/", HEADERS, None)
            assert await read_all(response) == b""
        await p.aclose()
    assert server.connections == 1


async def test_interim_100_continue_is_skipped() -> None:
    raw = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"
    async with ScriptedServer(answer(raw)) as server:
        p = pool(server)
        response = await p.request(b"POST", b"/", [*HEADERS, (b"content-length", b"3")], b"abc")
        assert response.status == 201
        assert await read_all(response) == b"ok"
        await p.aclose()
    assert server.requests[0][1] == b"abc"


async def test_streamed_request_body_is_sent_chunked() -> None:
    async def parts() -> AsyncIterator[bytes]:
        for part in (b"one ", b"", b"two"):
            yield part

    async with ScriptedServer(answer(OK)) as server:
        p = pool(server)
        headers = [*HEADERS, (b"transfer-encoding", b"chunked")]
        assert await read_all(await p.request(b"POST", b"/", headers, parts())) == b"hello"
        await p.aclose()
    assert server.requests[0][1] == b"one two"


async def test_large_body_streams_in_pieces() -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB
    raw = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%b" % (len(payload), payload)
    async with ScriptedServer(answer(raw)) as server:
        p = pool(server)
        for _ in range(2):
            assert await read_all(await p.request(b"GET", b"/", HEADERS, None)) == payload
        await p.aclose()
    assert server.connections == 1


async def test_slow_reader_pauses_the_service_without_timing_out() -> None:
    payload = b"x" * (1024 * 1024)
    raw = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%b" % (len(payload), payload)
    async with ScriptedServer(answer(raw)) as server:
        p = pool(server, timeout=0.1)
        response = await p.request(b"GET", b"/", HEADERS, None)
        received = 0
        async for chunk in response.body:
            received += len(chunk)
            await asyncio.sleep(0.25)  # a slow client: waiting on it is not the service's delay
        await response.body.aclose()
        assert received == len(payload)
        assert await read_all(await p.request(b"GET", b"/", HEADERS, None)) == payload
        await p.aclose()
    assert server.connections == 1


async def test_body_past_the_buffer_limit_taken_whole_leaves_the_connection_usable() -> None:
    payload = b"y" * (300 * 1024)
    raw = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%b" % (len(payload), payload)
    async with ScriptedServer(answer(raw)) as server:
        p = pool(server, timeout=1.0)
        try:
            async with asyncio.timeout(5):  # a connection left paused would hang, not fail
                for _ in range(3):
                    response = await p.request(b"GET", b"/", HEADERS, None)
                    await asyncio.sleep(0.1)  # let reading pause on a full buffer
                    whole = response.body.whole()
                    body = whole if whole is not None else b"".join([c async for c in response.body])
                    await response.body.aclose()
                    assert body == payload
        finally:
            await p.aclose()
    assert server.connections == 1


async def test_no_answer_times_out() -> None:
    async def silent(
        index: int, head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        await asyncio.sleep(5)
        return False

    async with ScriptedServer(silent) as server:
        p = pool(server, timeout=0.2)
        with pytest.raises(ResponseTimedOut):
            await p.request(b"GET", b"/", HEADERS, None)
        await p.aclose()


async def test_stalled_body_times_out() -> None:
    async def stall(
        index: int, head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        await asyncio.sleep(5)
        return False

    async with ScriptedServer(stall) as server:
        p = pool(server, timeout=0.2)
        response = await p.request(b"GET", b"/", HEADERS, None)
        with pytest.raises(ResponseTimedOut):
            await read_all(response)
        await p.aclose()


async def test_body_cut_short_is_connection_lost() -> None:
    raw = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"
    async with ScriptedServer(answer(raw, keep_open=False)) as server:
        p = pool(server)
        response = await p.request(b"GET", b"/", HEADERS, None)
        with pytest.raises(ConnectionLost):
            await read_all(response)
        await p.aclose()


async def test_close_without_answer_is_connection_lost() -> None:
    async with ScriptedServer(answer(b"", keep_open=False)) as server:
        p = pool(server)
        with pytest.raises(ConnectionLost):
            await p.request(b"GET", b"/", HEADERS, None)
        await p.aclose()


async def test_garbage_answer_is_connection_lost() -> None:
    async with ScriptedServer(answer(b"NOT HTTP AT ALL\r\n\r\n", keep_open=False)) as server:
        p = pool(server)
        with pytest.raises(ConnectionLost):
            await p.request(b"GET", b"/", HEADERS, None)
        await p.aclose()


async def test_oversized_head_is_connection_lost() -> None:
    raw = b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * (70 * 1024) + b"\r\nContent-Length: 0\r\n\r\n"
    async with ScriptedServer(answer(raw, keep_open=False)) as server:
        p = pool(server)
        with pytest.raises(ConnectionLost):
            await p.request(b"GET", b"/", HEADERS, None)
        await p.aclose()


async def test_idle_connection_closed_by_the_server_is_retried_once() -> None:
    async def once(
        index: int, head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        writer.write(OK)
        await writer.drain()
        return False  # close right after answering: the pooled connection is stale

    async with ScriptedServer(once) as server:
        p = pool(server)
        assert await read_all(await p.request(b"GET", b"/", HEADERS, None)) == b"hello"
        await asyncio.sleep(0.05)
        assert await read_all(await p.request(b"POST", b"/", HEADERS, b"")) == b"hello"
        await p.aclose()
    assert server.connections == 2


async def test_unread_body_still_on_the_wire_closes_the_connection() -> None:
    async def partial(
        index: int, head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc" if index == 0 else OK)
        await writer.drain()
        return True

    async with ScriptedServer(partial) as server:
        p = pool(server)
        response = await p.request(b"GET", b"/", HEADERS, None)
        await response.body.aclose()  # 7 bytes never came: this connection cannot carry another answer
        assert await read_all(await p.request(b"GET", b"/", HEADERS, None)) == b"hello"
        await p.aclose()
    assert server.connections == 2


async def test_whole_small_body_is_handed_over_at_once() -> None:
    async with ScriptedServer(answer(OK)) as server:
        p = pool(server)
        response = await p.request(b"GET", b"/", HEADERS, None)
        assert response.body.whole() == b"hello"
        assert [chunk async for chunk in response.body] == []
        await response.body.aclose()
        assert await read_all(await p.request(b"GET", b"/", HEADERS, None)) == b"hello"
        await p.aclose()
    assert server.connections == 1


async def test_slots_bound_concurrent_requests() -> None:
    async def slow(
        index: int, head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        await asyncio.sleep(0.05)
        writer.write(OK)
        await writer.drain()
        return True

    async with ScriptedServer(slow) as server:
        p = Http1Pool("127.0.0.1", server.port, connect_timeout=1.0, timeout=2.0, max_connections=2)

        async def one() -> bytes:
            return await read_all(await p.request(b"GET", b"/", HEADERS, None))

        assert await asyncio.gather(*(one() for _ in range(6))) == [b"hello"] * 6
        await p.aclose()
    assert server.connections == 2


async def test_refused_connection_is_connect_failed() -> None:
    async with ScriptedServer(answer(OK)) as server:
        port = server.port
    p = Http1Pool("127.0.0.1", port, connect_timeout=1.0, timeout=1.0)
    await asyncio.sleep(0.05)
    with pytest.raises(ConnectFailed):
        await p.request(b"GET", b"/", HEADERS, None)
