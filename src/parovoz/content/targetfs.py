"""File operations confined to an install directory: never a step outside it.

Every path is walked one component at a time from a descriptor of the install directory, opening
each directory with `O_NOFOLLOW`, so a symlink planted anywhere inside (`data -> /etc`) is refused
rather than followed, even if it appears between a check and a use. Renames, unlinks and opens are
done relative to the parent's descriptor, and never follow a final symlink either: replacing or
deleting a symlink touches the link, not what it points to.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

from parovoz.content import codec
from parovoz.content.errors import ContentError, UnsafePath

STATE_DIR = ".parovoz"
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def check_relative(path: str) -> list[str]:
    """The parts of a manifest path, refusing anything that is not a plain relative path in DIR."""
    parts = path.split("/")
    if not path or path.startswith("/") or any(p in ("", ".", "..") or "\0" in p for p in parts):
        raise UnsafePath(f"unsafe path {path!r}: must be relative, without empty, '.' or '..' parts")
    if parts[0] == STATE_DIR:
        raise UnsafePath(f"unsafe path {path!r}: {STATE_DIR}/ holds the installer's own state")
    return parts


class Target:
    """An install directory, opened once; all paths given to it are relative to it."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)

    def close(self) -> None:
        os.close(self.fd)

    def __enter__(self) -> Target:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @contextlib.contextmanager
    def directory(self, parts: list[str], create: bool = False) -> Iterator[int]:
        """A descriptor of the directory `parts` inside the root (created when `create`).

        A symlink on the way is refused (`UnsafePath`). With `create`, a regular file standing
        where a directory must be is removed: the manifest, which cannot hold both, wants the
        directory. Without `create`, a missing directory raises FileNotFoundError."""
        fd = os.dup(self.fd)
        try:
            for i, part in enumerate(parts):
                try:
                    child = os.open(part, _DIR_FLAGS, dir_fd=fd)
                except OSError as error:
                    child = self._enter_failed(fd, part, error, create, "/".join(parts[: i + 1]))
                os.close(fd)
                fd = child
            yield fd
        finally:
            os.close(fd)

    def _enter_failed(self, fd: int, part: str, error: OSError, create: bool, shown: str) -> int:
        try:
            st = os.stat(part, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            if not create:
                raise FileNotFoundError(errno.ENOENT, "no such directory", shown) from None
            st = None
        if st is not None and stat.S_ISLNK(st.st_mode):
            raise UnsafePath(
                f"refusing to go through {shown!r}: it is a symlink (it may lead out of the install)"
            )
        if st is not None and stat.S_ISDIR(st.st_mode):
            raise error
        if st is not None:
            if not create:
                raise FileNotFoundError(errno.ENOTDIR, "not a directory", shown) from None
            os.unlink(part, dir_fd=fd)
        with contextlib.suppress(FileExistsError):
            os.mkdir(part, 0o755, dir_fd=fd)
        return os.open(part, _DIR_FLAGS, dir_fd=fd)

    @contextlib.contextmanager
    def parent(self, path: str, create: bool = False) -> Iterator[tuple[int, str]]:
        """(descriptor of the parent directory, file name) of a manifest path."""
        parts = check_relative(path)
        with self.directory(parts[:-1], create) as fd:
            yield fd, parts[-1]

    def check_parents(self, path: str) -> None:
        """Refuse a path whose existing parent directories include a symlink (before any write)."""
        parts = check_relative(path)
        with contextlib.suppress(FileNotFoundError), self.directory(parts[:-1]):
            pass

    def lstat(self, path: str) -> os.stat_result | None:
        """The path's own status (a symlink is reported as one), or None when it or a parent is missing."""
        try:
            with self.parent(path) as (fd, name):
                return os.stat(name, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            return None

    def is_regular(self, path: str, size: int | None = None) -> bool:
        st = self.lstat(path)
        return st is not None and stat.S_ISREG(st.st_mode) and (size is None or st.st_size == size)

    def open(self, path: str, flags: int, create_parents: bool = False) -> int:
        """A descriptor of a regular file at `path` (never through or onto a symlink)."""
        with self.parent(path, create_parents) as (fd, name):
            try:
                return os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=fd)
            except OSError as error:
                if error.errno == errno.ELOOP:
                    raise UnsafePath(f"refusing to open {path!r}: it is a symlink") from None
                raise

    def read_chunk(self, path: str, offset: int, size: int, cid: str) -> bytes | None:
        """Chunk `cid` read from the file at `path`, or None when that file no longer holds it there."""
        try:
            fd = self.open(path, os.O_RDONLY)
        except (OSError, ContentError):
            return None
        try:
            return codec.read_chunk(fd, offset, size, cid)
        finally:
            os.close(fd)

    def replace(self, src_dir_fd: int, src_name: str, path: str, parent_fd: int | None = None) -> bool:
        """Rename `src_name` (in `src_dir_fd`) onto `path`, atomically; False when the source is gone.

        The source is a file, or a whole directory `path` is free for (`tree_commit.py`). A directory
        standing at `path` is removed first (the manifest wants a file there). `parent_fd`: the caller
        has `path`'s parent open already, no walk from the root. Nothing is synced here: the commit
        syncs the filesystem once."""
        if parent_fd is not None:
            return replace_in(parent_fd, check_relative(path)[-1], src_dir_fd, src_name)
        with self.parent(path, create=True) as (fd, name):
            return replace_in(fd, name, src_dir_fd, src_name)

    def move(self, old: str, new: str) -> bool:
        """Rename file `old` to `new` inside the root; False when `old` is gone (a resumed move)."""
        try:
            with self.parent(old) as (fd, name):
                return self.replace(fd, name, new)
        except FileNotFoundError:
            return False

    def unlink(self, path: str) -> bool:
        """Remove a file or symlink (never what a symlink points to) and the parents it leaves empty."""
        parts = check_relative(path)
        try:
            with self.parent(path) as (fd, name):
                if stat.S_ISDIR(os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode):
                    return False  # a directory where the old build had a file: not ours to remove
                os.unlink(name, dir_fd=fd)
        except (FileNotFoundError, UnsafePath):
            return False  # gone already, or behind a symlink: nothing of ours to delete
        for depth in range(len(parts) - 1, 0, -1):
            try:
                with self.directory(parts[: depth - 1]) as fd:
                    os.rmdir(parts[depth - 1], dir_fd=fd)
            except OSError:
                break
        return True

    def fsync_dir(self, parts: list[str]) -> None:
        with contextlib.suppress(FileNotFoundError, UnsafePath), self.directory(parts) as fd:
            os.fsync(fd)


def dir_parts(path: str) -> tuple[str, ...]:
    return tuple(path.split("/")[:-1])


def replace_in(dir_fd: int, name: str, src_dir_fd: int, src_name: str) -> bool:
    """`Target.replace` once the destination's parent is open: False when the source is gone."""
    with contextlib.suppress(FileNotFoundError):
        if stat.S_ISDIR(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode):
            shutil.rmtree(name, dir_fd=dir_fd)
    try:
        os.rename(src_name, name, src_dir_fd=src_dir_fd, dst_dir_fd=dir_fd)
    except FileNotFoundError:
        return False
    return True
