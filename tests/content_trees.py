"""Helpers for install/verify tests: builds into a store, tree snapshots, a counting store wrapper."""

from __future__ import annotations

import os
import stat
import threading
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from parovoz.content.build import BuildMeta, BuildReport, build
from parovoz.content.store import ChunkStore
from parovoz.content.targetfs import STATE_DIR
from tests.content_builds import SMALL_PARAMS


def make_build(src: Path, store: ChunkStore, key: Ed25519PrivateKey, build_id: str) -> BuildReport:
    return build(
        src, store, params=SMALL_PARAMS, signing_key=key, meta=BuildMeta(build_id=build_id, created_at=1)
    )


def tree(root: Path) -> dict[str, tuple[bytes, int]]:
    """path -> (bytes, mode bits) of every file under root (install state excluded); symlinks as such."""
    found: dict[str, tuple[bytes, int]] = {}
    for directory, dirnames, filenames in os.walk(root):
        rel = Path(directory).relative_to(root)
        if rel == Path("."):
            dirnames[:] = [d for d in dirnames if d != STATE_DIR]
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(directory, d))]:
            path = Path(directory) / name
            st = path.lstat()
            data = os.readlink(path).encode() if stat.S_ISLNK(st.st_mode) else path.read_bytes()
            found[(rel / name).as_posix()] = (data, stat.S_IMODE(st.st_mode))
    return found


class CountingStore:
    """A read-only wrapper counting `get`s per chunk id; can fail after a number of gets."""

    def __init__(self, inner: ChunkStore, fail_after: int | None = None) -> None:
        self.inner = inner
        self.gets: Counter[str] = Counter()
        self.fail_after = fail_after
        self._lock = threading.Lock()

    def get(self, cid: str) -> bytes:
        with self._lock:
            if self.fail_after is not None and sum(self.gets.values()) >= self.fail_after:
                raise ConnectionError("store went away (test)")
            self.gets[cid] += 1
        return self.inner.get(cid)

    def has(self, cid: str) -> bool:
        return self.inner.has(cid)

    def missing(self, cids: Iterable[str]) -> set[str]:
        return self.inner.missing(cids)

    def put(self, cid: str, blob: bytes) -> None:
        raise AssertionError("installs never write to the store")

    def size(self, cid: str) -> int:
        return self.inner.size(cid)

    @property
    def total(self) -> int:
        return sum(self.gets.values())
