"""Build: a source directory into chunks in a store and a signed manifest.

The walk is sorted and takes regular files only: a symlink or a special file (fifo, socket, device)
in the source is refused with its path, because what it should become on a player's machine is
ambiguous (a link out of the install directory is exactly what installers must refuse). Empty
directories are not kept: a manifest lists files.

Pipeline (memory stays bounded by a few chunks per worker, whatever the build's size): the main
thread cuts each file in order (FastCDC releases the GIL) and hashes the whole file; a bounded pool
hashes chunks; batches of ids are checked with one `store.missing` call; only missing chunks are
compressed (and encrypted) and put, in the same pool. The manifest is signed only after every chunk
it references is in the store, so a build killed at any moment leaves no manifest pointing at absent
chunks, and a re-run sends only what is still missing.
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
import unicodedata
import uuid
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from parovoz.content import codec, keys, manifest
from parovoz.content.chunking import ChunkingParams, cut
from parovoz.content.errors import SourceRejected
from parovoz.content.progress import Progress
from parovoz.content.store import ChunkStore
from parovoz.protos.platform.content.v1.manifest_pb2 import ChunkRef, FileEntry, Manifest


@dataclass(frozen=True, slots=True)
class BuildMeta:
    game_id: str = "local"
    depot_id: str = "main"
    branch: str = "public"
    # Empty: derived from the manifest's content, so the same input gives the same id.
    build_id: str = ""
    # Seconds since the epoch; None: now (or SOURCE_DATE_EPOCH when set, for reproducible builds).
    created_at: int | None = None


@dataclass(frozen=True, slots=True)
class BuildReport:
    manifest: Manifest
    signed: bytes
    files: int
    bytes: int
    chunks: int
    unique_chunks: int
    stored_bytes: int
    new_chunks: int
    new_bytes: int
    new_stored_bytes: int
    seconds: float


@dataclass(frozen=True, slots=True)
class SourceFile:
    path: str  # manifest path: '/'-separated, NFC
    disk_path: str
    size: int
    mode: int


def scan(src: str | os.PathLike[str]) -> list[SourceFile]:
    """The regular files under `src`, sorted by manifest path (UTF-8 byte order)."""
    root = Path(src)
    if not root.is_dir():
        raise SourceRejected(f"{src} is not a directory")
    found: list[SourceFile] = []
    pending = [("", os.fspath(root))]  # an explicit stack: deep trees must not hit the recursion limit
    while pending:
        prefix, directory = pending.pop()
        try:
            entries = list(os.scandir(directory))
        except OSError as error:
            raise SourceRejected(f"cannot list {directory}: {error.strerror or error}") from None
        for entry in entries:
            name = _manifest_name(entry.path, entry.name)
            path = f"{prefix}{name}"
            if entry.is_symlink():
                raise SourceRejected(f"{entry.path} is a symlink: builds take regular files only")
            if entry.is_dir(follow_symlinks=False):
                pending.append((f"{path}/", entry.path))
            elif entry.is_file(follow_symlinks=False):
                info = entry.stat(follow_symlinks=False)
                found.append(SourceFile(path, entry.path, info.st_size, stat.S_IMODE(info.st_mode) & 0o777))
            else:
                raise SourceRejected(
                    f"{entry.path} is a special file (fifo, socket or device): not shippable"
                )
    found.sort(key=lambda source: source.path.encode())
    return found


def build(
    src: str | os.PathLike[str],
    store: ChunkStore,
    *,
    params: ChunkingParams,
    level: int = codec.DEFAULT_LEVEL,
    signing_key: Ed25519PrivateKey,
    depot_key: bytes | None = None,
    meta: BuildMeta = BuildMeta(),
    progress: Progress | None = None,
    workers: int | None = None,
) -> BuildReport:
    started = time.monotonic()
    sources = scan(src)
    if progress is not None:
        progress.total = sum(source.size for source in sources)
    workers = workers or min(4, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="content-build") as pool:
        uploader = _Uploader(store, pool, level, depot_key, window=2 * workers)
        try:
            entries = [_add_file(source, params, uploader, progress) for source in sources]
            uploader.finish()
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    for entry in entries:
        for ref in entry.chunks:
            ref.stored_size = uploader.stored_size(ref.id)
    if progress is not None:
        progress.finish()
    result = _manifest(entries, params, level, depot_key, meta)
    totals = result.totals
    return BuildReport(
        manifest=result,
        signed=manifest.sign(result, signing_key),
        files=totals.files,
        bytes=totals.bytes,
        chunks=totals.chunks,
        unique_chunks=totals.unique_chunks,
        stored_bytes=totals.stored_bytes,
        new_chunks=uploader.new_chunks,
        new_bytes=uploader.new_bytes,
        new_stored_bytes=uploader.new_stored_bytes(),
        seconds=time.monotonic() - started,
    )


def _add_file(
    source: SourceFile, params: ChunkingParams, uploader: _Uploader, progress: Progress | None
) -> FileEntry:
    entry = FileEntry(path=source.path, mode=source.mode)
    whole = hashlib.sha256()
    try:
        for piece in cut(source.disk_path, params):
            whole.update(piece.data)
            ref = entry.chunks.add(offset=piece.offset, size=piece.size)
            uploader.add(ref, piece.data)
            entry.size += piece.size
            if progress is not None:
                progress.advance(piece.size)
    except OSError as error:
        raise SourceRejected(f"cannot read {source.disk_path}: {error.strerror or error}") from None
    entry.sha256 = whole.hexdigest()
    return entry


def _manifest(
    entries: list[FileEntry], params: ChunkingParams, level: int, depot_key: bytes | None, meta: BuildMeta
) -> Manifest:
    result = Manifest(
        format=manifest.FORMAT,
        game_id=meta.game_id,
        depot_id=meta.depot_id,
        branch=meta.branch,
        created_at=meta.created_at if meta.created_at is not None else _now(),
        encryption_key_id=keys.depot_key_id(depot_key) if depot_key else "",
    )
    result.files.extend(entries)
    result.chunking.min_size = params.min_size
    result.chunking.avg_size = params.avg_size
    result.chunking.max_size = params.max_size
    result.chunking.zstd_level = level
    result.totals.CopyFrom(manifest.compute_totals(result.files))
    # The id derives from everything else, so the same input and creation time give the same bytes.
    digest = hashlib.sha256(manifest.serialize(result)).digest()
    result.build_id = meta.build_id or str(uuid.UUID(bytes=digest[:16], version=5))
    manifest.validate(result)
    return result


class _Uploader:
    """Hashes chunks, asks the store which it lacks (in batches), encodes and puts only those."""

    def __init__(
        self, store: ChunkStore, pool: ThreadPoolExecutor, level: int, key: bytes | None, window: int
    ):
        self.store, self.pool, self.level, self.key, self.window = store, pool, level, key, window
        self.known: dict[str, int | Future[int]] = {}  # id -> stored size (pending while being put)
        self.hashing: deque[tuple[ChunkRef, bytes, Future[str]]] = deque()
        self.encoding: deque[Future[int]] = deque()
        self.new_chunks = 0
        self.new_bytes = 0
        self._new_ids: list[str] = []

    def add(self, ref: ChunkRef, data: bytes) -> None:
        self.hashing.append((ref, data, self.pool.submit(codec.chunk_id, data)))
        # Settle the older half only: the newer one keeps hashing meanwhile.
        if len(self.hashing) >= 2 * self.window:
            self._settle(self.window)

    def finish(self) -> None:
        self._settle(len(self.hashing))
        while self.encoding:
            self.encoding.popleft().result()

    def stored_size(self, cid: str) -> int:
        size = self.known[cid]
        return size.result() if isinstance(size, Future) else size

    def new_stored_bytes(self) -> int:
        return sum(self.stored_size(cid) for cid in self._new_ids)

    def _settle(self, count: int) -> None:
        batch = [self.hashing.popleft() for _ in range(count)]
        ids = [future.result() for _, _, future in batch]
        unknown = {cid for cid in ids if cid not in self.known}
        lacking = self.store.missing(unknown) if unknown else set()
        for (ref, data, _), cid in zip(batch, ids, strict=True):
            ref.id = cid
            if cid in self.known:
                continue
            if cid in lacking:
                self.known[cid] = self._encode_and_put(cid, data)
                self.new_chunks += 1
                self.new_bytes += len(data)
                self._new_ids.append(cid)
            else:
                self.known[cid] = self.store.size(cid)

    def _encode_and_put(self, cid: str, data: bytes) -> Future[int]:
        while len(self.encoding) >= self.window:
            self.encoding.popleft().result()
        future = self.pool.submit(self._encode_put_one, cid, data)
        self.encoding.append(future)
        return future

    def _encode_put_one(self, cid: str, data: bytes) -> int:
        blob = codec.encode(data, self.level, self.key, cid=cid)
        self.store.put(cid, blob)
        return len(blob)


def _manifest_name(disk_path: str, name: str) -> str:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise SourceRejected(f"{disk_path!r}: file name is not valid UTF-8") from None
    # Manifests hold NFC names (macOS writes NFD); two names equal after this are refused by `validate`.
    return unicodedata.normalize("NFC", name)


def _now() -> int:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    return int(epoch) if epoch and epoch.isdigit() else int(time.time())
