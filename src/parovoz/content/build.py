"""Build: a source directory into chunks in a store and a signed manifest.

The walk is sorted and takes regular files only: a symlink or a special file (fifo, socket, device)
in the source is refused with its path, because what it should become on a player's machine is
ambiguous (a link out of the install directory is exactly what installers must refuse). Empty
directories are not kept: a manifest lists files.

Pipeline (memory stays bounded by a few chunks per worker, whatever the build's size): the main
thread cuts each file in order and hashes its chunks and the whole file (FastCDC and SHA-256 release
the GIL; a file of one chunk is hashed once); `uploader.ChunkUploader` checks batches of ids with one
`store.missing` call and compresses (and encrypts) and puts only missing chunks on a bounded pool.
A local store skips per-blob fsyncs and syncs once at the end (`store_sync`). The manifest is signed
only after every chunk it references is in the store and synced, so a build killed at any moment
leaves no manifest pointing at absent chunks, and a re-run sends only what is still missing.
With `previous` builds, a delta pass (`delta_build.py`) then patches the changed chunks against them,
on the same pool, before the sync.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import time
import unicodedata
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from parovoz.content import codec, delta_build, keys, manifest
from parovoz.content.chunking import ChunkingParams, cut
from parovoz.content.errors import SourceRejected
from parovoz.content.progress import Progress
from parovoz.content.store import ChunkStore, LocalChunkStore
from parovoz.content.uploader import ChunkUploader
from parovoz.protos.platform.content.v1.manifest_pb2 import ChunkDelta, FileEntry, Manifest


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
    deltas: int = 0  # patches listed in the manifest (`--previous`)
    new_patches: int = 0  # patch blobs this build put into the store
    new_patch_bytes: int = 0


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
    previous: Sequence[Manifest] = (),
) -> BuildReport:
    """Chunk `src` into `store` and sign its manifest; with `previous` (verified manifests of earlier
    builds), also patch each changed chunk against them (`delta_build`)."""
    started = time.monotonic()
    previous = delta_build.distinct(previous)  # refused before any work when there are too many
    sources = scan(src)
    if progress is not None:
        progress.total = sum(source.size for source in sources)
    workers = workers or min(4, os.cpu_count() or 1)
    # A local store syncs once at the end instead of per blob; the manifest is signed only after.
    deferred = store.deferred_sync() if isinstance(store, LocalChunkStore) else contextlib.nullcontext()
    with deferred, ThreadPoolExecutor(max_workers=workers, thread_name_prefix="content-build") as pool:
        uploader = ChunkUploader(store, pool, workers, level, depot_key)
        try:
            entries = [_add_file(source, params, uploader, progress) for source in sources]
            uploader.finish()
            for entry in entries:
                for ref in entry.chunks:
                    ref.stored_size = uploader.stored_size(ref.id)
            deltas = delta_build.make_deltas(
                entries, [s.disk_path for s in sources], previous, store, pool, level, depot_key
            )
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    if progress is not None:
        progress.finish()
    result = _manifest(entries, deltas.deltas, params, level, depot_key, meta)
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
        deltas=len(deltas.deltas),
        new_patches=deltas.new_patches,
        new_patch_bytes=deltas.new_patch_bytes,
    )


def _add_file(
    source: SourceFile, params: ChunkingParams, uploader: ChunkUploader, progress: Progress | None
) -> FileEntry:
    entry = FileEntry(path=source.path, mode=source.mode)
    whole = hashlib.sha256()
    # A file of one chunk is hashed once: its sha256 is that chunk's id. The first chunk is kept
    # until a second one shows the file needs its own hash after all.
    first = b""
    try:
        for index, piece in enumerate(cut(source.disk_path, params)):
            cid = codec.chunk_id(piece.data)
            if index == 0:
                first = piece.data
            else:
                if index == 1:
                    whole.update(first)
                    first = b""
                whole.update(piece.data)
            entry.chunks.add(id=cid, offset=piece.offset, size=piece.size)
            uploader.add(cid, piece.data)
            entry.size += piece.size
            if progress is not None:
                progress.advance(piece.size)
    except OSError as error:
        raise SourceRejected(f"cannot read {source.disk_path}: {error.strerror or error}") from None
    entry.sha256 = entry.chunks[0].id if len(entry.chunks) == 1 else whole.hexdigest()
    return entry


def _manifest(
    entries: list[FileEntry],
    deltas: list[ChunkDelta],
    params: ChunkingParams,
    level: int,
    depot_key: bytes | None,
    meta: BuildMeta,
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
    result.deltas.extend(deltas)
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
