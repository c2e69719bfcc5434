"""`StagedFiles` (staging files created once, written through kept descriptors), `DirChain`, `syncfs`."""

from __future__ import annotations

import os
import stat
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from parovoz.content import staged_files
from parovoz.content.fs_sync import syncfs
from parovoz.content.staged_files import DirChain, StagedFile, StagedFiles, open_staged, write_parts


def _open_fds() -> set[int]:
    return {int(name) for name in os.listdir("/proc/self/fd")}


def _open_on(path: Path) -> set[int]:
    """Our descriptors open on `path`."""
    found = set()
    for fd in _open_fds():
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == str(path):
                found.add(fd)
        except OSError:
            pass  # the listing's own descriptor, closed by now
    return found


@pytest.fixture
def staging(tmp_path: Path) -> Iterator[int]:
    (tmp_path / "staging").mkdir()
    fd = os.open(tmp_path / "staging", os.O_RDONLY | os.O_DIRECTORY)
    yield fd
    os.close(fd)


def test_files_are_created_at_size_and_mode_in_a_tree_and_written(tmp_path: Path, staging: int) -> None:
    files = [
        StagedFile(0, write_parts("a/b/one.bin"), 10, 0o755),
        StagedFile(1, write_parts("a/b/two.bin"), 4, 0o644),
        StagedFile(2, write_parts("a/c/empty"), 0, 0o600),
        StagedFile(3, ("3",), 6, 0o644),  # a patch's ranges: flat, by index
    ]
    staged = StagedFiles(staging, files, Counter({0: 2, 1: 1, 3: 1}))
    staged.create(0)
    staged.create(1)
    staged.create(3)
    staged.write(0, b"hello", 0)
    staged.write(0, b"world", 5)
    staged.write(1, b"abcd", 0)
    staged.write(3, b"xy", 2)
    staged.create_rest()
    staged.close()
    root = tmp_path / "staging"
    assert (root / "tree/a/b/one.bin").read_bytes() == b"helloworld"
    assert stat.S_IMODE((root / "tree/a/b/one.bin").stat().st_mode) == 0o755
    assert (root / "tree/a/b/two.bin").read_bytes() == b"abcd"
    assert (root / "tree/a/c/empty").read_bytes() == b""  # no writes: created by create_rest
    assert stat.S_IMODE((root / "tree/a/c/empty").stat().st_mode) == 0o600
    assert (root / "3").read_bytes() == b"\0\0xy\0\0"


def test_concurrent_writes_to_one_file_all_land(tmp_path: Path, staging: int) -> None:
    # Workers write one file's chunks at once (taking turns on the file's lock): every byte lands.
    pieces = [bytes([i]) * 65_536 for i in range(64)]
    big = StagedFile(0, write_parts("big.pak"), 64 * 65_536, 0o644)
    staged = StagedFiles(staging, [big], Counter({0: 64}))
    staged.create(0)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: staged.write(0, pieces[i], i * 65_536), reversed(range(64))))
    staged.close()
    assert (tmp_path / "staging/tree/big.pak").read_bytes() == b"".join(pieces)


def test_a_descriptor_is_kept_until_the_last_write_then_closed(tmp_path: Path, staging: int) -> None:
    before = _open_fds()
    path = tmp_path / "staging" / "tree" / "f"
    staged = StagedFiles(staging, [StagedFile(0, write_parts("f"), 3, 0o644)], Counter({0: 3}))
    staged.create(0)
    kept = _open_on(path)
    assert len(kept) == 1
    staged.write(0, b"a", 0)
    staged.write(0, b"b", 1)
    assert _open_on(path) == kept  # the same descriptor, not one opened per write
    staged.write(0, b"c", 2)
    assert _open_on(path) == set()
    staged.close()
    assert _open_fds() == before
    assert path.read_bytes() == b"abc"


def test_beyond_max_open_a_write_opens_the_file_for_itself(
    tmp_path: Path, staging: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(staged_files, "MAX_OPEN", 2)
    files = [StagedFile(i, write_parts(f"d/{i}"), 1, 0o644) for i in range(5)]
    before = _open_fds()
    staged = StagedFiles(staging, files, Counter(range(5)))
    for i in range(5):
        staged.create(i)
    kept = set().union(*(_open_on(tmp_path / "staging/tree/d" / str(i)) for i in range(5)))
    assert len(kept) == 2
    for i in range(5):
        staged.write(i, bytes([65 + i]), 0)
    staged.close()
    assert _open_fds() == before
    assert [(tmp_path / "staging/tree/d" / str(i)).read_bytes() for i in range(5)] == [
        b"A",
        b"B",
        b"C",
        b"D",
        b"E",
    ]


def test_a_resumed_file_keeps_its_bytes(tmp_path: Path, staging: int) -> None:
    (tmp_path / "staging/tree/x").mkdir(parents=True)
    (tmp_path / "staging/tree/x/f").write_bytes(b"staged before")
    staged = StagedFiles(staging, [StagedFile(0, write_parts("x/f"), 13, 0o644)], Counter())
    staged.create_rest()
    assert (tmp_path / "staging/tree/x/f").read_bytes() == b"staged before"


def test_the_chain_makes_each_directory_once_and_refuses_a_symlink(tmp_path: Path, staging: int) -> None:
    (tmp_path / "outside").mkdir()
    os.symlink(tmp_path / "outside", tmp_path / "staging" / "link")
    chain = DirChain(staging)
    first = chain.enter(["a", "b", "c"])
    assert chain.enter(["a", "b", "c"]) == first  # still open: nothing walked again
    chain.enter(["a", "b", "d"])
    assert (tmp_path / "staging/a/b/c").is_dir() and (tmp_path / "staging/a/b/d").is_dir()
    with pytest.raises(OSError):
        chain.enter(["link", "x"])
    chain.close()
    assert not (tmp_path / "outside" / "x").exists()
    with pytest.raises(OSError):
        open_staged(staging, ["link", "f"], os.O_RDONLY)


def test_syncfs_syncs_a_descriptor_and_refuses_a_closed_one(tmp_path: Path) -> None:
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    syncfs(fd)
    os.close(fd)
    with pytest.raises(OSError):
        syncfs(fd)
