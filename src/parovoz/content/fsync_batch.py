"""Durability in batches: many files or directories fsynced at once from a small thread pool.

On ext4 and xfs concurrent fsyncs share journal commits, so a batch costs about what a few single
fsyncs do (measured here: 600 files of 256 KiB took 1.6 s fsynced one by one, 0.4 s eight at a time,
the same as one `syncfs`). Unlike `syncfs` it flushes only our own files, not whatever other
processes left dirty on the same filesystem. `os.fsync` releases the GIL.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor

FSYNC_THREADS = 8
_MAX_OPEN = 64  # descriptors waiting for their fsync at once (bounded: a build may have 1000s of dirs)


class FsyncBatch:
    """`add(fd)` hands over a descriptor: it is fsynced and closed in the pool. `wait()` (or leaving
    the `with` block normally) returns once every one added is durable, re-raising the first error."""

    def __init__(self, threads: int = FSYNC_THREADS) -> None:
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="content-fsync")
        self._slots = threading.BoundedSemaphore(_MAX_OPEN)
        self._futures: list[Future[None]] = []

    def add(self, fd: int) -> None:
        self._slots.acquire()
        try:
            self._futures.append(self._pool.submit(self._sync, fd))
        except BaseException:
            self._slots.release()
            os.close(fd)
            raise

    def add_name(self, dir_fd: int, name: str) -> None:
        """The file `name` in `dir_fd` (opened read-only, never through a symlink)."""
        self.add(os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd))

    def wait(self) -> None:
        try:
            for future in self._futures:
                future.result()
        finally:
            self._futures = []

    def close(self) -> None:
        self._pool.shutdown(wait=True)  # every descriptor handed over is closed by then

    def __enter__(self) -> FsyncBatch:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        try:
            if exc_type is None:
                self.wait()
        finally:
            self.close()

    def _sync(self, fd: int) -> None:
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
            self._slots.release()
