"""`HttpChunkStore` against the real chunk origin served over HTTP, with a middleware that misbehaves on
purpose: dropped connections mid-body, 5xx, stalls, redirects, and an origin that ignores `Range`."""

from __future__ import annotations

import asyncio
import hashlib
import http.server
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from parovoz.content import codec
from parovoz.content.errors import ChunkFetchFailed, ChunkNotFound, ContentError, UnsafePath
from parovoz.content.http_store import HttpChunkStore
from parovoz.content.origin import ChunkOrigin
from parovoz.content.store import LocalChunkStore
from tests.infra import free_port
from tests.integration.content.test_origin import put_blob
from tests.servers import ServedApp


class Unreliable:
    """Wraps the origin; each knob misbehaves on the next N chunk requests, then the origin answers."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests: list[tuple[str, str, bytes | None]] = []  # (method, path, Range header)
        self.drop_next = 0  # answer, then drop the connection after `drop_after` body bytes
        self.drop_after = 0
        self.fail_next = 0  # answer 503
        self.stall_next = 0  # sleep `stall_seconds` before answering
        self.stall_seconds = 0.0
        self.ignore_range = False
        self.redirects: dict[str, str] = {}  # path prefix -> Location prefix
        # Like a bucket or a CDN: answer with this ETag instead of the chunk id, and honour If-Range
        # only when it carries this one.
        self.own_etag: bytes | None = None
        self.statuses: list[int] = []  # of chunk answers, in order

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        headers = dict(scope["headers"])
        self.requests.append((scope["method"], scope["path"], headers.get(b"range")))
        for prefix, target in self.redirects.items():
            if scope["path"].startswith(prefix):
                location = target + scope["path"].removeprefix(prefix)
                await send(
                    {
                        "type": "http.response.start",
                        "status": 302,
                        "headers": [(b"location", location.encode())],
                    }
                )
                await send({"type": "http.response.body", "body": b""})
                return
        if self.fail_next > 0:
            self.fail_next -= 1
            await send({"type": "http.response.start", "status": 503, "headers": []})
            await send({"type": "http.response.body", "body": b"busy"})
            return
        if self.stall_next > 0:
            self.stall_next -= 1
            await asyncio.sleep(self.stall_seconds)
        if self.ignore_range:
            scope = {
                **scope,
                "headers": [(k, v) for k, v in scope["headers"] if k not in (b"range", b"if-range")],
            }
        send = self._recording(send)
        if self.own_etag is not None:
            scope, send = self._with_own_etag(scope, send)
        if self.drop_next > 0:
            self.drop_next -= 1
            await self.app(scope, receive, self._cutting(send))
            return
        await self.app(scope, receive, send)

    def _recording(self, send: Any) -> Any:
        async def recording_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                self.statuses.append(message["status"])
            await send(message)

        return recording_send

    def _with_own_etag(self, scope: dict[str, Any], send: Any) -> tuple[dict[str, Any], Any]:
        own, chunk_etag = self.own_etag, f'"{scope["path"].rsplit("/", 1)[-1]}"'.encode()
        headers = [
            (k, (chunk_etag if v == own else b'"stale"') if k == b"if-range" else v)
            for k, v in scope["headers"]
        ]

        async def renaming_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {
                    **message,
                    "headers": [(k, own if k == b"etag" else v) for k, v in message["headers"]],
                }
            await send(message)

        return {**scope, "headers": headers}, renaming_send

    def _cutting(self, send: Any) -> Any:
        sent = 0

        async def cut_send(message: dict[str, Any]) -> None:
            nonlocal sent
            if message["type"] == "http.response.body":
                body = message.get("body", b"")
                room = self.drop_after - sent
                if len(body) >= room:
                    await send({"type": "http.response.body", "body": body[:room], "more_body": True})
                    raise ConnectionAbortedError("dropped on purpose")
                sent += len(body)
            await send(message)

        return cut_send

    def chunk_gets(self) -> list[bytes | None]:
        return [rng for method, path, rng in self.requests if method == "GET" and path.startswith("/chunks/")]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("store")
    (root / "chunks").mkdir()
    return root


@pytest.fixture(scope="module")
def served(store: Path) -> Iterator[tuple[str, Unreliable]]:
    origin = ChunkOrigin(store)
    app = Unreliable(origin)
    with ServedApp(app) as server:
        yield server.url, app
    origin.close()


@pytest.fixture
def origin(served: tuple[str, Unreliable]) -> Iterator[tuple[str, Unreliable]]:
    url, app = served
    app.requests.clear()
    yield url, app
    app.drop_next = app.fail_next = app.stall_next = 0
    app.ignore_range = False
    app.redirects.clear()
    app.own_etag = None
    app.statuses.clear()


def http_store(url: str, **kwargs: Any) -> HttpChunkStore:
    return HttpChunkStore(url, **{"concurrency": 4, "timeout": 5.0, "retries": 3, "backoff": 0.01, **kwargs})


def test_get_has_size_missing(store: Path, origin: tuple[str, Unreliable]) -> None:
    url, _ = origin
    blobs = [os.urandom(n) for n in (1, 1000, 70_000)]
    ids = [put_blob(store, b) for b in blobs]
    absent = [hashlib.sha256(f"absent {i}".encode()).hexdigest() for i in range(3)]
    with http_store(url) as remote:
        for chunk_id, blob in zip(ids, blobs, strict=True):
            assert remote.get(chunk_id) == blob
            assert remote.get(chunk_id, expected_size=len(blob)) == blob
            assert remote.has(chunk_id)
            assert remote.size(chunk_id) == len(blob)
        assert remote.missing([*ids, *absent]) == set(absent)
        assert not remote.has(absent[0])
        with pytest.raises(ChunkNotFound):
            remote.get(absent[0])
        with pytest.raises(ChunkNotFound):
            remote.size(absent[0])


def test_bad_ids_never_reach_the_network(origin: tuple[str, Unreliable]) -> None:
    url, app = origin
    with http_store(url) as remote:
        for bad in ("../../etc/passwd", "A" * 64, "a" * 63, ""):
            with pytest.raises(UnsafePath, match="not a chunk id"):
                remote.get(bad)
            with pytest.raises(UnsafePath, match="not a chunk id"):
                remote.has(bad)
    assert app.requests == []


def test_dropped_connection_resumes_with_range(store: Path, origin: tuple[str, Unreliable]) -> None:
    url, app = origin
    blob = os.urandom(3 * 1024 * 1024 + 5)
    chunk_id = put_blob(store, blob)
    app.drop_next, app.drop_after = 2, 1024 * 1024 + 100
    with http_store(url) as remote:
        assert remote.get(chunk_id, expected_size=len(blob)) == blob
    ranges = app.chunk_gets()
    assert len(ranges) == 3
    assert ranges[0] is None
    # each retry asks only for what is still missing, from where the previous attempt stopped
    first, second = (int(r.decode().removeprefix("bytes=").removesuffix("-")) for r in ranges[1:] if r)
    assert 0 < first < second < len(blob)


def test_a_resume_names_the_servers_own_etag_in_if_range(store: Path, origin: tuple[str, Unreliable]) -> None:
    """A bucket's or CDN's ETag is not the chunk id: the resume carries the one the server sent, so
    it gets the rest of the blob (206), not the whole blob again."""
    url, app = origin
    blob = os.urandom(3 * 1024 * 1024 + 5)
    chunk_id = put_blob(store, blob)
    app.own_etag = b'"5d41402abc4b2a76b9719d911017c592"'
    app.drop_next, app.drop_after = 1, 1024 * 1024 + 100
    with http_store(url) as remote:
        assert remote.get(chunk_id, expected_size=len(blob)) == blob
    assert app.statuses == [200, 206]
    assert app.chunk_gets()[1] is not None


def test_origin_that_ignores_range_restarts_cleanly(store: Path, origin: tuple[str, Unreliable]) -> None:
    url, app = origin
    blob = os.urandom(2 * 1024 * 1024)
    chunk_id = put_blob(store, blob)
    app.drop_next, app.drop_after, app.ignore_range = 1, 1024 * 1024 + 1, True
    with http_store(url) as remote:
        assert remote.get(chunk_id) == blob  # the whole answer replaced the partial bytes, not appended


def test_5xx_is_retried_then_given_up(store: Path, origin: tuple[str, Unreliable]) -> None:
    url, app = origin
    blob = os.urandom(100)
    chunk_id = put_blob(store, blob)
    app.fail_next = 2
    with http_store(url) as remote:
        assert remote.get(chunk_id) == blob
        assert len(app.chunk_gets()) == 3
        app.fail_next = 100
        with pytest.raises(ChunkFetchFailed, match="gave up after 4 attempts: HTTP 503"):
            remote.get(chunk_id)
        app.fail_next = 100
        with pytest.raises(ChunkFetchFailed, match="gave up"):
            remote.has(chunk_id)


def test_stalled_answer_times_out_and_is_retried(store: Path, origin: tuple[str, Unreliable]) -> None:
    url, app = origin
    blob = os.urandom(100)
    chunk_id = put_blob(store, blob)
    app.stall_next, app.stall_seconds = 1, 1.0
    with http_store(url, timeout=0.2) as remote:
        assert remote.get(chunk_id) == blob
    assert len(app.chunk_gets()) == 2


def test_unreachable_origin_fails_with_a_clear_message() -> None:
    with (
        http_store(f"http://127.0.0.1:{free_port()}", retries=1) as remote,
        pytest.raises(ChunkFetchFailed, match="gave up after 2 attempts"),
    ):
        remote.get("0" * 64)


def test_blob_larger_than_expected_is_refused(store: Path, origin: tuple[str, Unreliable]) -> None:
    url, _ = origin
    blob = os.urandom(10_000)
    chunk_id = put_blob(store, blob)
    with http_store(url) as remote:
        with pytest.raises(ChunkFetchFailed, match="more than 9999"):
            remote.get(chunk_id, expected_size=9999)
        with pytest.raises(ChunkFetchFailed, match="expected 10001"):
            remote.get(chunk_id, expected_size=10_001)
    with (
        http_store(url, max_blob_size=4096) as remote,
        pytest.raises(ChunkFetchFailed, match="more than 4096"),
    ):
        remote.get(chunk_id)


def test_redirects_only_within_the_origin(store: Path, origin: tuple[str, Unreliable]) -> None:
    url, app = origin
    blob = os.urandom(500)
    chunk_id = put_blob(store, blob)
    app.redirects["/mirror/"] = "/"  # same host: followed
    app.redirects["/elsewhere/"] = "http://203.0.113.9/"  # another host: refused
    with http_store(f"{url}/mirror") as remote:
        assert remote.get(chunk_id) == blob
    with (
        http_store(f"{url}/elsewhere") as remote,
        pytest.raises(ChunkFetchFailed, match="another host refused"),
    ):
        remote.get(chunk_id)


def test_concurrent_gets_share_the_pool(store: Path, origin: tuple[str, Unreliable]) -> None:
    url, _ = origin
    blobs = {put_blob(store, blob): blob for blob in (os.urandom(20_000 + i) for i in range(40))}
    with http_store(url) as remote, ThreadPoolExecutor(8) as threads:
        got = dict(zip(blobs, threads.map(remote.get, blobs), strict=True))
        assert len(remote._idle) <= remote.concurrency  # the pool keeps no more than it may use
    assert got == blobs


def test_read_only_and_bad_urls() -> None:
    with http_store("http://127.0.0.1:1") as remote, pytest.raises(ContentError, match="read-only"):
        remote.put("0" * 64, b"")
    for bad in ("ftp://host/store", "/just/a/path", "http://", "http:///chunks"):
        with pytest.raises(ContentError, match="not an http"):
            HttpChunkStore(bad)


def test_real_blobs_from_a_local_store_decode_after_the_trip(tmp_path: Path) -> None:
    """What `LocalChunkStore.put` wrote, the origin serves and `codec.decode` accepts, unchanged."""
    local = LocalChunkStore(tmp_path / "store")
    plain = {codec.chunk_id(p): p for p in (os.urandom(50_000), b"a" * 200_000, b"")}
    for cid, data in plain.items():
        local.put(cid, codec.encode(data, level=3))
    app = ChunkOrigin(local.root)
    with ServedApp(app) as server, http_store(server.url) as remote:
        for cid, data in plain.items():
            blob = remote.get(cid, expected_size=local.size(cid))
            assert codec.decode(blob, cid, len(data)) == data
        assert remote.missing([*plain, "f" * 64]) == {"f" * 64}
    app.close()


def test_a_static_file_server_over_the_store_directory_serves_as_an_origin(tmp_path: Path) -> None:
    """The paths asked for are the store's own layout, so a bucket, a CDN or any static file server
    in front of a store directory is an origin with no rewrite."""
    local = LocalChunkStore(tmp_path / "store")
    plain = {codec.chunk_id(p): p for p in (os.urandom(70_000), b"b" * 100_000)}
    for cid, data in plain.items():
        local.put(cid, codec.encode(data, level=3))
    asked: list[str] = []

    class Static(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(local.root), **kwargs)

        def log_message(self, format: str, *args: Any) -> None:
            asked.append(self.path)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Static)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with http_store(f"http://127.0.0.1:{server.server_address[1]}") as remote:
            for cid, data in plain.items():
                assert codec.decode(remote.get(cid, local.size(cid)), cid, len(data)) == data
            assert remote.missing([*plain, "e" * 64]) == {"e" * 64}
    finally:
        server.shutdown()
        server.server_close()
    assert all(path.startswith(f"/chunks/{path[8:10]}/{path[8:10]}") for path in asked), asked
