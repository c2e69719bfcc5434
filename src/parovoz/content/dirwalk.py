"""Directories of an install visited in sorted order, each opened (or created) once.

`Target.directory` walks from the root for every call, which is right for one path but, at the
commit of a build with ~2,500 files in ~2,000 deep directories, meant thousands of redundant opens.
The walker keeps the chain of open ancestors of the directory it is in and walks down from the
deepest common one, with the same rules as `Target.directory` (`O_NOFOLLOW` at every step, a symlink
refused, a regular file in the way replaced by the directory the manifest wants).

Directories whose entries changed (a file renamed in, a child created) are handed to an `FsyncBatch`
when the walk leaves them, so each is fsynced once, in parallel with the rest of the walk.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from parovoz.content.fsync_batch import FsyncBatch
from parovoz.content.targetfs import Target

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass
class _Open:
    name: str
    fd: int
    changed: bool = False


class DirWalker:
    def __init__(self, target: Target, batch: FsyncBatch) -> None:
        self._target = target
        self._batch = batch
        self._stack: list[_Open] = []  # the open chain below the root, outermost first
        self._root_changed = False

    def enter(self, parts: Sequence[str]) -> int:
        """A descriptor of directory `parts` (created when missing), valid until the next `enter`."""
        keep = 0
        while keep < min(len(self._stack), len(parts)) and self._stack[keep].name == parts[keep]:
            keep += 1
        self._leave(keep)
        for depth in range(keep, len(parts)):
            parent = self._stack[-1].fd if self._stack else self._target.fd
            try:
                child = os.open(parts[depth], _DIR_FLAGS, dir_fd=parent)
            except OSError as error:
                shown = "/".join(parts[: depth + 1])
                child = self._target._enter_failed(parent, parts[depth], error, True, shown)
                self.mark_changed()  # the parent gained an entry
            self._stack.append(_Open(parts[depth], child))
        return self._stack[-1].fd if self._stack else self._target.fd

    def mark_changed(self) -> None:
        """The directory last entered (or being entered) has changed entries: fsync it when left."""
        if self._stack:
            self._stack[-1].changed = True
        else:
            self._root_changed = True

    def close(self) -> None:
        self._leave(0)
        if self._root_changed:
            self._root_changed = False
            self._batch.add(os.dup(self._target.fd))

    def __enter__(self) -> DirWalker:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _leave(self, depth: int) -> None:
        while len(self._stack) > depth:
            left = self._stack.pop()
            if left.changed:
                self._batch.add(left.fd)
            else:
                os.close(left.fd)
