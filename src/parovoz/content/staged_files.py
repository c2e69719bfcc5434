"""The files an install stages in `.parovoz/staging/`: each created once, written through a kept descriptor.

Layout: a file the commit renames into place (WRITE) is staged at `tree/<its path>`, so the new
build's directories are made inside staging during the write phase, while chunks are fetched, and a
directory the target lacks arrives at the commit whole, with one rename (`tree_commit.py`), instead of
a `mkdir` per directory and a rename per file at the commit. A file patched in place (PATCH) is staged
as `<its index in the manifest>` and copied into the live file at the commit.

`StagedFiles.create` runs on the installer's own thread, just before the first task writing to the
file is submitted, so creating thousands of files and directories overlaps fetching (creating them
from the workers instead measured slower: creates in one directory contend on its lock). Directories are
walked as a chain of open descriptors (files come in path order, so each directory is made and opened
once), one component at a time with `O_NOFOLLOW`. The descriptor of a created file stays open until
its last pending write (at most `MAX_OPEN` at once; beyond that a write opens the file for itself),
so workers do not walk the path again for every chunk. Writes to one file take turns on a lock of
its own: the kernel serializes them anyway (on the inode's lock), but its waiters spin while the
writer copies, which on two cores burned the core that should be decoding the next chunk (~6 % of an
install's samples went to `rwsem_spin_on_owner`).
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

TREE = "tree"  # staging/tree/<path>: the files the commit renames into place
MAX_OPEN = 256  # kept descriptors (well under the usual limit of 1,024 per process)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass(frozen=True)
class StagedFile:
    index: int  # in the new manifest
    parts: tuple[str, ...]  # its path inside staging
    size: int
    mode: int  # permission bits


def write_parts(path: str) -> tuple[str, ...]:
    """Where a file written whole (renamed into place at the commit) is staged."""
    return (TREE, *path.split("/"))


def patch_parts(index: int) -> tuple[str, ...]:
    """Where the changed ranges of a file patched in place are staged."""
    return (str(index),)


def open_staged(staging_fd: int, parts: Sequence[str], flags: int) -> int:
    """A descriptor of the staged file `parts` (FileNotFoundError when it or a directory is missing)."""
    fd = os.dup(staging_fd)
    try:
        for part in parts[:-1]:
            child = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = child
        return os.open(parts[-1], flags | _FILE_FLAGS, dir_fd=fd)
    finally:
        os.close(fd)


class DirChain:
    """Directories under `root_fd` entered in turn, made when missing; the chain of open ancestors of the
    last one is kept, so entering a sibling or a child walks only what differs."""

    def __init__(self, root_fd: int) -> None:
        self._root_fd = root_fd
        self._stack: list[tuple[str, int]] = []  # (name, descriptor), outermost first

    def enter(self, parts: Sequence[str]) -> int:
        """A descriptor of directory `parts` (made when missing), valid until the next `enter`."""
        keep = 0
        while keep < min(len(self._stack), len(parts)) and self._stack[keep][0] == parts[keep]:
            keep += 1
        self._leave(keep)
        for part in parts[keep:]:
            parent = self._stack[-1][1] if self._stack else self._root_fd
            try:
                os.mkdir(part, 0o755, dir_fd=parent)  # first: a fresh install makes every directory
            except FileExistsError:
                pass  # a resumed install made it before
            self._stack.append((part, os.open(part, _DIR_FLAGS, dir_fd=parent)))
        return self._stack[-1][1] if self._stack else self._root_fd

    def close(self) -> None:
        self._leave(0)

    def _leave(self, depth: int) -> None:
        while len(self._stack) > depth:
            os.close(self._stack.pop()[1])


@dataclass
class _Entry:
    file: StagedFile
    pending: int  # writes still to come in this run
    created: bool = False
    fd: int | None = None
    write_lock: threading.Lock = field(default_factory=threading.Lock)


class StagedFiles:
    """The staged files of one write phase. `create` is called from one thread only (the installer's);
    `write` from any number of workers, each for a file created before its task was submitted."""

    def __init__(self, staging_fd: int, files: Iterable[StagedFile], writes: Counter[int]) -> None:
        self._staging_fd = staging_fd
        self._entries = {f.index: _Entry(f, writes[f.index]) for f in files}
        self._dirs = DirChain(staging_fd)
        self._lock = threading.Lock()
        self._open = 0

    def create(self, index: int) -> None:
        """Create (or, on resume, keep) the staged file at its final size and mode; its directories too."""
        entry = self._entries[index]
        if entry.created:
            return
        staged = entry.file
        parent = self._dirs.enter(staged.parts[:-1])
        fd = os.open(staged.parts[-1], os.O_WRONLY | os.O_CREAT | _FILE_FLAGS, 0o600, dir_fd=parent)
        try:
            if os.fstat(fd).st_size != staged.size:
                os.ftruncate(fd, staged.size)
            os.fchmod(fd, staged.mode)
        except BaseException:
            os.close(fd)
            raise
        with self._lock:
            entry.created = True
            if entry.pending > 0 and self._open < MAX_OPEN:
                entry.fd, fd = fd, -1
                self._open += 1
        if fd >= 0:
            os.close(fd)

    def create_rest(self) -> None:
        """Create the files no task wrote to in this run (empty ones; all staged before a resume)."""
        for index in sorted(self._entries, key=lambda i: self._entries[i].file.parts):
            self.create(index)
        self._dirs.close()

    def write(self, index: int, data: bytes, offset: int) -> None:
        entry = self._entries[index]
        # Set before the task was submitted, and closed only after the last pending write: this one
        # has not counted itself off yet.
        fd = entry.fd
        own = fd is None
        if fd is None:
            fd = open_staged(self._staging_fd, entry.file.parts, os.O_WRONLY)
        try:
            with entry.write_lock:
                pwrite_all(fd, data, offset)
        finally:
            if own:
                os.close(fd)
            with self._lock:
                entry.pending -= 1
                if entry.pending <= 0 and entry.fd is not None:
                    os.close(entry.fd)
                    entry.fd = None
                    self._open -= 1

    def close(self) -> None:
        """Close every descriptor still kept (an install stopped by an error); after the workers stop."""
        self._dirs.close()
        with self._lock:
            for entry in self._entries.values():
                if entry.fd is not None:
                    os.close(entry.fd)
                    entry.fd = None
            self._open = 0


def pwrite_all(fd: int, data: bytes | memoryview, offset: int) -> None:
    view = memoryview(data)
    while view:
        n = os.pwrite(fd, view, offset)
        view, offset = view[n:], offset + n
