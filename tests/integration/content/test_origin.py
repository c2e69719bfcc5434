"""The chunk origin over real HTTP (uvicorn + httptools): headers, Range, 304, 416, and that nothing
outside the store is ever served."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from parovoz.content import origin as origin_module
from parovoz.content.origin import ChunkOrigin, _parse_range
from tests.infra import free_port, wait_port
from tests.servers import ServedApp

# the console script installed beside the interpreter, as a user runs it
PAROVOZ = str(Path(sys.executable).parent / "parovoz")


def put_blob(root: Path, data: bytes) -> str:
    """Write `data` where `LocalChunkStore` keeps a blob (`chunks/<id[:2]>/<id>`); the origin does not
    decode blobs, so any bytes do."""
    chunk_id = hashlib.sha256(data).hexdigest()
    path = root / "chunks" / chunk_id[:2] / chunk_id
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return chunk_id


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("store")
    (root / "chunks").mkdir()
    return root


@pytest.fixture(scope="module")
def origin(store: Path) -> Iterator[str]:
    app = ChunkOrigin(store)
    with ServedApp(app) as served:
        yield served.url
    app.close()


@pytest.fixture
def client(origin: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=origin, headers={"accept-encoding": "identity"}) as c:
        yield c


def test_the_store_layout_path_serves_the_same_blob(store: Path, client: httpx.Client) -> None:
    data = os.urandom(2000)
    chunk_id = put_blob(store, data)
    r = client.get(f"/chunks/{chunk_id[:2]}/{chunk_id}")
    assert r.status_code == 200 and r.content == data and r.headers["etag"] == f'"{chunk_id}"'
    assert client.head(f"/chunks/{chunk_id[:2]}/{chunk_id}").headers["content-length"] == "2000"
    wrong = "00" if chunk_id[:2] != "00" else "11"
    assert client.get(f"/chunks/{wrong}/{chunk_id}").status_code == 404  # not its fan-out directory
    assert client.get(f"/chunks/{chunk_id[:2]}/{chunk_id}/").status_code == 404


def test_get_serves_the_blob_with_immutable_cache_headers(store: Path, client: httpx.Client) -> None:
    data = os.urandom(3000)
    chunk_id = put_blob(store, data)
    r = client.get(f"/chunks/{chunk_id}")
    assert r.status_code == 200
    assert r.content == data
    assert r.headers["etag"] == f'"{chunk_id}"'
    assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert r.headers["content-type"] == "application/octet-stream"
    assert r.headers["content-length"] == "3000"
    assert r.headers["accept-ranges"] == "bytes"


def test_big_blob_streams_whole(store: Path, client: httpx.Client) -> None:
    data = os.urandom(5 * 1024 * 1024 + 17)  # several send pieces
    chunk_id = put_blob(store, data)
    r = client.get(f"/chunks/{chunk_id}")
    assert r.status_code == 200
    assert hashlib.sha256(r.content).hexdigest() == chunk_id


def test_bytes_the_page_cache_lacks_are_read_in_the_pool(
    store: Path, client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Cached bytes are read on the loop (RWF_NOWAIT); the rest, here all of them, in the I/O pool.
    data = os.urandom(2 * origin_module.PIECE + 777)
    chunk_id = put_blob(store, data)
    fd = os.open(store / "chunks" / chunk_id[:2] / chunk_id, os.O_RDONLY)
    try:  # just written, so cached: read without the pool
        assert origin_module._read_cached(fd, 10, 5) == data[5:15]
    finally:
        os.close(fd)
    monkeypatch.setattr(origin_module, "_NOWAIT", None)
    assert client.get(f"/chunks/{chunk_id}").content == data
    ranged = client.get(f"/chunks/{chunk_id}", headers={"range": f"bytes={origin_module.PIECE - 3}-"})
    assert ranged.status_code == 206 and ranged.content == data[origin_module.PIECE - 3 :]


def test_head_has_headers_and_no_body(store: Path, client: httpx.Client) -> None:
    chunk_id = put_blob(store, os.urandom(1234))
    r = client.head(f"/chunks/{chunk_id}")
    assert r.status_code == 200
    assert r.headers["content-length"] == "1234"
    assert r.headers["etag"] == f'"{chunk_id}"'
    assert r.content == b""


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=10-19", 10, 20),
        ("bytes=990-", 990, 1000),
        ("bytes=-5", 995, 1000),
        ("bytes=900-5000", 900, 1000),
    ],
)
def test_range_gives_206_with_content_range(
    store: Path, client: httpx.Client, header: str, start: int, end: int
) -> None:
    data = os.urandom(1000)
    chunk_id = put_blob(store, data)
    r = client.get(f"/chunks/{chunk_id}", headers={"range": header})
    assert r.status_code == 206
    assert r.content == data[start:end]
    assert r.headers["content-range"] == f"bytes {start}-{end - 1}/1000"
    assert r.headers["content-length"] == str(end - start)


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=5000-6000", "bytes=-0"])
def test_unsatisfiable_range_is_416(store: Path, client: httpx.Client, header: str) -> None:
    chunk_id = put_blob(store, os.urandom(1000))
    r = client.get(f"/chunks/{chunk_id}", headers={"range": header})
    assert r.status_code == 416
    assert r.headers["content-range"] == "bytes */1000"


@pytest.mark.parametrize("header", ["bytes=0-1,5-6", "items=0-5", "bytes=9-3"])
def test_multiple_or_malformed_ranges_are_ignored(store: Path, client: httpx.Client, header: str) -> None:
    data = os.urandom(100)
    chunk_id = put_blob(store, data)
    r = client.get(f"/chunks/{chunk_id}", headers={"range": header})
    assert r.status_code == 200
    assert r.content == data


def test_if_range_with_another_etag_gives_the_whole_blob(store: Path, client: httpx.Client) -> None:
    data = os.urandom(100)
    chunk_id = put_blob(store, data)
    r = client.get(f"/chunks/{chunk_id}", headers={"range": "bytes=50-", "if-range": '"' + "0" * 64 + '"'})
    assert r.status_code == 200 and r.content == data
    r = client.get(f"/chunks/{chunk_id}", headers={"range": "bytes=50-", "if-range": f'"{chunk_id}"'})
    assert r.status_code == 206 and r.content == data[50:]


@pytest.mark.parametrize("form", ['"{id}"', 'W/"{id}"', '"other", "{id}"', "*"])
def test_if_none_match_gives_304(store: Path, client: httpx.Client, form: str) -> None:
    chunk_id = put_blob(store, os.urandom(100))
    r = client.get(f"/chunks/{chunk_id}", headers={"if-none-match": form.format(id=chunk_id)})
    assert r.status_code == 304
    assert r.content == b""
    assert r.headers["etag"] == f'"{chunk_id}"'
    assert "immutable" in r.headers["cache-control"]


def test_if_none_match_with_another_tag_serves_the_blob(store: Path, client: httpx.Client) -> None:
    chunk_id = put_blob(store, b"x" * 10)
    r = client.get(f"/chunks/{chunk_id}", headers={"if-none-match": '"' + "a" * 64 + '"'})
    assert r.status_code == 200 and r.content == b"x" * 10


@pytest.mark.parametrize(
    "path",
    [
        "/chunks/" + "A" * 64,  # upper case
        "/chunks/" + "a" * 63,
        "/chunks/" + "a" * 65,
        "/chunks/" + "g" * 64,
        "/chunks/",
        "/chunks",
        "/",
        "/blobs/" + "a" * 64,
    ],
)
def test_bad_ids_and_paths_are_404(client: httpx.Client, path: str) -> None:
    assert client.get(path).status_code == 404


def test_absent_chunk_is_404(client: httpx.Client) -> None:
    r = client.get("/chunks/" + "0" * 64)
    assert r.status_code == 404
    assert client.head("/chunks/" + "0" * 64).status_code == 404


def raw_get(url: str, target: str) -> bytes:
    """A request line sent as is, bypassing any client-side normalisation of `..`."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while piece := s.recv(65536):
            answer += piece
    return answer


@pytest.mark.parametrize(
    "target",
    [
        "/chunks/../../secret.txt",
        "/chunks/..%2f..%2fsecret.txt",
        "/chunks/%2e%2e/%2e%2e/secret.txt",
        "/../secret.txt",
        "/chunks//etc/passwd",
    ],
)
def test_traversal_attempts_never_leave_the_store(store: Path, origin: str, target: str) -> None:
    (store.parent / "secret.txt").write_text("SECRET")
    answer = raw_get(origin, target)
    assert b"SECRET" not in answer
    assert answer.startswith(b"HTTP/1.1 404") or answer.startswith(b"HTTP/1.1 400")


def test_symlinks_out_of_the_store_are_not_followed(
    store: Path, client: httpx.Client, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.write_bytes(b"SECRET")
    # a blob that is a symlink to a file outside
    link_id = hashlib.sha256(b"link").hexdigest()
    (store / "chunks" / link_id[:2]).mkdir(exist_ok=True)
    (store / "chunks" / link_id[:2] / link_id).symlink_to(outside)
    assert client.get(f"/chunks/{link_id}").status_code == 404
    # a fan-out directory that is a symlink to a directory outside
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # (a fan-out prefix no chunk of the module's other tests happens to use: they are random)
    prefix = next(f"{n:02x}" for n in range(256) if not (store / "chunks" / f"{n:02x}").exists())
    dir_id = prefix + hashlib.sha256(b"dir").hexdigest()[2:]
    (elsewhere / dir_id).write_bytes(b"SECRET")
    (store / "chunks" / prefix).symlink_to(elsewhere)
    assert client.get(f"/chunks/{dir_id}").status_code == 404


def test_healthz_and_methods(client: httpx.Client) -> None:
    assert client.get("/healthz").text == "ok\n"
    r = client.post("/chunks/" + "0" * 64)
    assert r.status_code == 405
    assert r.headers["allow"] == "GET, HEAD"


def test_parse_range_forms() -> None:
    assert _parse_range("bytes=0-0", 10) == (0, 1)
    assert _parse_range("bytes=-20", 10) == (0, 10)
    assert _parse_range("bytes=10-", 10) == "unsatisfiable"
    assert _parse_range("bytes=-", 10) is None
    assert _parse_range("bytes=a-b", 10) is None


def test_serve_command_runs_an_origin_process(store: Path) -> None:
    """`parovoz content serve STORE --port N` as a user runs it; a non-store directory is refused."""
    chunk_id = put_blob(store, b"served by the command")
    port = free_port()
    proc = subprocess.Popen(
        [PAROVOZ, "content", "serve", str(store), "--port", str(port)],
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_port("127.0.0.1", port, proc=proc)
        r = httpx.get(f"http://127.0.0.1:{port}/chunks/{chunk_id}")
        assert r.status_code == 200 and r.content == b"served by the command"
    finally:
        proc.terminate()
        proc.wait(10)
    refused = subprocess.run(
        [PAROVOZ, "content", "serve", str(store / "chunks")],
        capture_output=True,
        text=True,
    )
    assert refused.returncode != 0
    assert "is not a chunk store" in refused.stderr
    assert "Traceback" not in refused.stderr
