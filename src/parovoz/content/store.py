"""Chunk stores: content-addressed blobs by chunk id (docs/CONTENT.md, "Chunk store").

`LocalChunkStore` keeps `<root>/chunks/<id[:2]>/<id>`. A put writes a temp file in `<root>/tmp/`,
fsyncs it, renames it into place and fsyncs the directory, so a blob under its final name is always
complete: a build killed at any moment leaves at worst stray temp files, which `sweep_temp` removes.
A build skips those fsyncs and syncs the filesystem once at its end (`deferred_sync`, see
`store_sync.py`, which also covers a power loss in between).
"""

from __future__ import annotations

import contextlib
import os
import re
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol, runtime_checkable

from parovoz.content import store_sync
from parovoz.content.errors import ChunkNotFound, UnsafePath

_CHUNK_ID = re.compile(r"[0-9a-f]{64}")


def check_chunk_id(cid: str) -> str:
    """`cid` if it is a well-formed chunk id (64 lower-case hex); it becomes a file name, so no other."""
    if not isinstance(cid, str) or not _CHUNK_ID.fullmatch(cid):
        raise UnsafePath(f"not a chunk id: {cid!r} (expected 64 lower-case hex digits)")
    return cid


@runtime_checkable
class ChunkStore(Protocol):
    """Blobs by chunk id. Implementations must be safe to call from several threads at once."""

    def has(self, cid: str) -> bool: ...

    def missing(self, cids: Iterable[str]) -> set[str]:
        """The ids among `cids` the store lacks (one round trip for remote stores)."""
        ...

    def put(self, cid: str, blob: bytes) -> None:
        """Store `blob` atomically; a no-op when the id is already there."""
        ...

    def get(self, cid: str) -> bytes:
        """The blob; `ChunkNotFound` when absent."""
        ...

    def size(self, cid: str) -> int:
        """The blob's size in bytes; `ChunkNotFound` when absent."""
        ...


class LocalChunkStore:
    """A chunk store in a local directory (created on first use)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.chunks_dir = self.root / "chunks"
        self.tmp_dir = self.root / "tmp"
        # False inside `deferred_sync`: blobs are renamed into place unsynced, one sync comes at the end.
        self.durable_puts = True
        self._made_dirs: set[Path] = set()

    def path(self, cid: str) -> Path:
        check_chunk_id(cid)
        return self.chunks_dir / cid[:2] / cid

    def has(self, cid: str) -> bool:
        return self.path(cid).is_file()

    def missing(self, cids: Iterable[str]) -> set[str]:
        return {cid for cid in set(cids) if not self.has(cid)}

    def put(self, cid: str, blob: bytes) -> None:
        final = self.path(cid)
        if final.is_file():
            return
        if final.parent not in self._made_dirs:  # one mkdir per shard, not per blob
            final.parent.mkdir(parents=True, exist_ok=True)
            self.tmp_dir.mkdir(parents=True, exist_ok=True)
            self._made_dirs.add(final.parent)
        temp = self.tmp_dir / f"{cid}.{uuid.uuid4().hex}"
        try:
            with open(temp, "wb") as out:
                out.write(blob)
                if self.durable_puts:
                    out.flush()
                    os.fsync(out.fileno())
            # Two writers of one id race harmlessly: both blobs are identical and rename is atomic.
            os.replace(temp, final)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
            raise
        if self.durable_puts:
            _fsync_dir(final.parent)

    def deferred_sync(self) -> contextlib.AbstractContextManager[None]:
        """Puts inside skip their fsyncs; one filesystem sync on a normal exit (see `store_sync`)."""
        return store_sync.deferred_sync(self)

    def get(self, cid: str) -> bytes:
        try:
            return self.path(cid).read_bytes()
        except FileNotFoundError:
            raise ChunkNotFound(f"chunk {cid} is not in the store at {self.root}") from None

    def size(self, cid: str) -> int:
        try:
            return self.path(cid).stat().st_size
        except FileNotFoundError:
            raise ChunkNotFound(f"chunk {cid} is not in the store at {self.root}") from None

    def sweep_temp(self, older_than_s: float = 3600.0) -> int:
        """Remove temp files left by killed writers (old enough that no live put still owns them)."""
        removed = 0
        cutoff = time.time() - older_than_s
        with contextlib.suppress(FileNotFoundError):
            for entry in os.scandir(self.tmp_dir):
                if entry.name.startswith(store_sync.MARKER_PREFIX):
                    continue  # a build's sync marker: `store_sync.recover_unsynced` owns those
                with contextlib.suppress(FileNotFoundError):
                    if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < cutoff:
                        os.unlink(entry.path)
                        removed += 1
        return removed


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
