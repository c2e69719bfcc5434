"""Durability for an install: one `syncfs` of the install's filesystem per barrier.

An install writes thousands of files and directories. Made durable one by one (an fsync per staged
file and per directory), the flushes dominated an install here: each fsync ends in a disk cache
flush, and on this machine's ext4 (no journal) an fsync of a new file also writes its parent
directories synchronously; the 3,000 fsyncs of a 256 MiB install took longer than fetching it.
`syncfs` writes back every dirty page and inode of the filesystem together and flushes once.

Its cost: it also flushes whatever other processes left dirty on the same filesystem. At an install's
barrier rate (about once a second) that is data the kernel would write within its 30 s expiry anyway.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from collections.abc import Callable


def syncfs(fd: int) -> None:
    """Make everything written on the filesystem holding `fd` durable (`sync` where there is no
    `syncfs`: not Linux). The call releases the GIL, so other threads go on meanwhile."""
    if _syncfs is None:
        os.sync()
        return
    if _syncfs(fd) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"syncfs failed: {os.strerror(error)}")


def _libc_function(name: str, argtypes: list[type]) -> Callable[..., int] | None:
    library = ctypes.util.find_library("c")
    if library is None:
        return None
    function = getattr(ctypes.CDLL(library, use_errno=True), name, None)
    if function is not None:
        function.argtypes = argtypes
        function.restype = ctypes.c_int
    return function


_syncfs = _libc_function("syncfs", [ctypes.c_int])
