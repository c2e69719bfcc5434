"""`FsyncBatch` (durability in batches) and `DirWalker` (each directory of a commit opened once)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from parovoz.content.dirwalk import DirWalker
from parovoz.content.errors import UnsafePath
from parovoz.content.fsync_batch import FsyncBatch
from parovoz.content.targetfs import Target


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def test_a_batch_fsyncs_and_closes_every_descriptor_handed_over(tmp_path: Path) -> None:
    fds = []
    with FsyncBatch(threads=3) as batch:
        for i in range(100):  # more than the descriptors allowed in flight at once
            (tmp_path / str(i)).write_bytes(b"x")
            fd = os.open(tmp_path / str(i), os.O_RDONLY)
            fds.append(fd)
            batch.add(fd)
    assert not any(_is_open(fd) for fd in fds)


def test_a_failed_fsync_is_raised_by_wait() -> None:
    read_end, write_end = os.pipe()
    os.close(write_end)
    with pytest.raises(OSError), FsyncBatch() as batch:  # fsync of a pipe: EINVAL
        batch.add(read_end)
    assert not _is_open(read_end)


class RecordingBatch(FsyncBatch):
    def __init__(self) -> None:
        super().__init__(threads=1)
        self.synced: list[str] = []

    def add(self, fd: int) -> None:
        self.synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        super().add(fd)


def test_the_walker_creates_each_directory_once_and_syncs_the_changed_ones(tmp_path: Path) -> None:
    root = tmp_path / "dir"
    (root / "a" / "old").mkdir(parents=True)
    with Target(root) as target, RecordingBatch() as batch, DirWalker(target, batch) as walker:
        first = walker.enter(["a", "b", "c"])
        assert walker.enter(["a", "b", "c"]) == first  # still open: no walk, no new descriptor
        walker.enter(["a", "b", "d"])
        walker.mark_changed()
        walker.enter(["a", "old"])  # exists, unchanged: not synced
        walker.enter(["e"])
    assert (root / "a" / "b" / "c").is_dir() and (root / "a" / "b" / "d").is_dir() and (root / "e").is_dir()
    synced = sorted(Path(p).relative_to(root).as_posix() for p in batch.synced)
    # a gained b, b gained c and d, d had a file renamed in, the root gained e; c and a/old did not change
    assert synced == [".", "a", "a/b", "a/b/d"]


def test_the_walker_refuses_a_symlink_and_replaces_a_file_in_the_way(tmp_path: Path) -> None:
    root, outside = tmp_path / "dir", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "link").symlink_to(outside)
    (root / "file").write_bytes(b"in the way")
    with Target(root) as target, FsyncBatch() as batch, DirWalker(target, batch) as walker:
        with pytest.raises(UnsafePath):
            walker.enter(["link", "x"])
        walker.enter(["file", "x"])
    assert not (outside / "x").exists()
    assert (root / "file" / "x").is_dir()
