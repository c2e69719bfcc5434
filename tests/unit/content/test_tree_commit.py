"""`move_tree`: the staged tree moved into the target, a new subtree in one rename, merged elsewhere."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from parovoz.content.errors import UnsafePath
from parovoz.content.targetfs import Target
from parovoz.content.tree_commit import move_tree
from tests.content_trees import tree


def _write(root: Path, files: dict[str, bytes]) -> None:
    for path, data in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)


@pytest.fixture
def dirs(tmp_path: Path) -> Iterator[tuple[Path, Path, Target, int]]:
    """(target dir, staging dir, Target, staging descriptor)."""
    root, staging = tmp_path / "dst", tmp_path / "dst" / ".parovoz" / "staging"
    staging.mkdir(parents=True)
    fd = os.open(staging, os.O_RDONLY | os.O_DIRECTORY)
    with Target(root) as target:
        yield root, staging, target, fd
    os.close(fd)


def test_a_new_subtree_arrives_whole_in_one_rename(dirs: tuple[Path, Path, Target, int]) -> None:
    root, staging, target, fd = dirs
    new = {f"game/data/level{i}/part{j}.bin": bytes([i, j]) for i in range(20) for j in range(3)}
    _write(staging / "tree", new)
    staged_inode = (staging / "tree" / "game").stat().st_ino
    moves = move_tree(target, fd)
    assert (moves.subtrees, moves.files, moves.merged_dirs) == (1, 0, 0)
    assert (root / "game").stat().st_ino == staged_inode  # the very directory: renamed, not rebuilt
    assert tree(root) == {path: (data, 0o644) for path, data in new.items()}
    assert list((staging / "tree").iterdir()) == []


def test_an_existing_directory_is_merged_and_keeps_foreign_files(
    dirs: tuple[Path, Path, Target, int],
) -> None:
    root, staging, target, fd = dirs
    _write(root, {"game/user.cfg": b"the player's", "game/old.bin": b"old", "game/saves/1.sav": b"save"})
    _write(staging / "tree", {"game/old.bin": b"new", "game/maps/a.map": b"map", "top.txt": b"top"})
    moves = move_tree(target, fd)
    assert (moves.subtrees, moves.files, moves.merged_dirs) == (1, 2, 1)  # maps/ whole; old.bin, top.txt
    assert tree(root) == {
        "game/user.cfg": (b"the player's", 0o644),
        "game/saves/1.sav": (b"save", 0o644),
        "game/old.bin": (b"new", 0o644),
        "game/maps/a.map": (b"map", 0o644),
        "top.txt": (b"top", 0o644),
    }


def test_a_file_in_the_way_of_a_directory_and_a_directory_in_the_way_of_a_file_are_replaced(
    dirs: tuple[Path, Path, Target, int],
) -> None:
    root, staging, target, fd = dirs
    _write(root, {"was-file": b"a file", "was-dir/inner.txt": b"inner"})
    _write(staging / "tree", {"was-file/now.txt": b"in a dir", "was-dir": b"a file now"})
    move_tree(target, fd)
    assert tree(root) == {"was-file/now.txt": (b"in a dir", 0o644), "was-dir": (b"a file now", 0o644)}


def test_a_symlink_where_a_directory_merges_is_refused(
    tmp_path: Path, dirs: tuple[Path, Path, Target, int]
) -> None:
    root, staging, target, fd = dirs
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "game").symlink_to(outside)
    _write(staging / "tree", {"game/x.bin": b"x"})
    with pytest.raises(UnsafePath):
        move_tree(target, fd)
    assert list(outside.iterdir()) == []


def test_an_interrupted_move_finishes_on_the_next_run(
    dirs: tuple[Path, Path, Target, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, staging, target, fd = dirs
    _write(root, {f"d{i}/keep.txt": b"keep" for i in range(4)})
    new = {f"d{i}/f{j}": bytes([i, j]) for i in range(4) for j in range(5)} | {"n/a/b": b"b", "n/c": b"c"}
    _write(staging / "tree", new)
    real_replace, calls = Target.replace, []

    def crash_after_seven(self: Target, *args: object) -> bool:
        calls.append(args)
        if len(calls) > 7:
            raise KeyboardInterrupt
        return real_replace(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(Target, "replace", crash_after_seven)
    with pytest.raises(KeyboardInterrupt):
        move_tree(target, fd)
    monkeypatch.setattr(Target, "replace", real_replace)
    assert 0 < len(tree(root)) - 4 < len(new)  # half way
    move_tree(target, fd)
    assert tree(root) == {path: (data, 0o644) for path, data in new.items()} | {
        f"d{i}/keep.txt": (b"keep", 0o644) for i in range(4)
    }


def test_no_staged_tree_moves_nothing(dirs: tuple[Path, Path, Target, int]) -> None:
    root, _, target, fd = dirs
    assert move_tree(target, fd).files == 0
    assert tree(root) == {}
