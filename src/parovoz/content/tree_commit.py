"""The commit's renames: the staged tree (`staging/tree/`, see `staged_files.py`) moved into the target.

A staged directory the target lacks is renamed into place whole: one rename for a new subtree
however many files and directories it holds (a fresh install of ~2,500 files in ~2,000 directories
is a handful of renames). Where the target has the directory already, its entries are merged one by
one: files are renamed over the live ones (`Target.replace`: never through a symlink; a directory in
the way of a file is removed, as the manifest wants a file there), subdirectories are merged in turn,
and whatever else the target directory holds (files the build does not own) stays.

Every step is a rename out of staging, so an interrupted commit is finished by running this again:
what was moved is no longer in staging, what was not is moved then. Nothing is synced here: the
caller makes the whole commit durable at once (`fs_sync.syncfs`).
"""

from __future__ import annotations

import contextlib
import os
import stat
from dataclasses import dataclass

from parovoz.content.errors import UnsafePath
from parovoz.content.staged_files import TREE
from parovoz.content.targetfs import Target

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass
class TreeMoves:
    subtrees: int = 0  # directories renamed into place whole
    files: int = 0  # files renamed one by one into directories that existed
    merged_dirs: int = 0  # staged directories merged into existing ones


@dataclass
class _Level:
    """One directory being merged: staged and live descriptors, its path, the entries left."""

    src_fd: int
    dst_fd: int
    prefix: tuple[str, ...]
    names: list[str]


def move_tree(target: Target, staging_fd: int) -> TreeMoves:
    """Move everything under `staging/tree/` into the target (nothing to do when it is absent)."""
    moves = TreeMoves()
    try:
        src = os.open(TREE, _DIR_FLAGS, dir_fd=staging_fd)
    except FileNotFoundError:
        return moves
    # Merged iteratively (a stack of levels, not recursion): a manifest path may be 2,000 parts deep.
    stack = [_Level(src, os.dup(target.fd), (), sorted(os.listdir(src)))]
    try:
        while stack:
            level = stack[-1]
            if not level.names:
                stack.pop()
                os.close(level.src_fd)
                os.close(level.dst_fd)
                continue
            name = level.names.pop()
            child = _move_entry(target, level, name, moves)
            if child is not None:
                stack.append(child)
    finally:
        for level in stack:
            os.close(level.src_fd)
            os.close(level.dst_fd)
    return moves


def _move_entry(target: Target, level: _Level, name: str, moves: TreeMoves) -> _Level | None:
    """Move one staged entry; a level to merge next when it is a directory the target has already."""
    path = "/".join((*level.prefix, name))
    staged = os.stat(name, dir_fd=level.src_fd, follow_symlinks=False)
    if not stat.S_ISDIR(staged.st_mode):
        target.replace(level.src_fd, name, path, level.dst_fd)
        moves.files += 1
        return None
    try:
        live: os.stat_result | None = os.stat(name, dir_fd=level.dst_fd, follow_symlinks=False)
    except FileNotFoundError:
        live = None
    if live is not None and stat.S_ISLNK(live.st_mode):
        raise UnsafePath(f"refusing to go through {path!r}: it is a symlink (it may lead out of the install)")
    if live is not None and stat.S_ISDIR(live.st_mode):
        src = os.open(name, _DIR_FLAGS, dir_fd=level.src_fd)
        try:
            dst = os.open(name, _DIR_FLAGS, dir_fd=level.dst_fd)
        except BaseException:
            os.close(src)
            raise
        moves.merged_dirs += 1
        return _Level(src, dst, (*level.prefix, name), sorted(os.listdir(src)))
    if live is not None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name, dir_fd=level.dst_fd)  # a file where the new build has a directory
    target.replace(level.src_fd, name, path, level.dst_fd)
    moves.subtrees += 1
    return None
