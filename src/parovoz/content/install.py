"""Install, update, resume and roll back: bring a directory to a signed manifest.

1. The manifest's signature and content are checked before anything is touched; then every target
   path is checked for a symlink among its existing parents (`UnsafePath`, nothing written).
2. The planner (`plan.py`) decides per file: keep, move, write from chunks, or patch in place.
3. Write phase (`staging.py`): every range to write lands in `.parovoz/staging/`, files written whole
   in a tree mirroring their paths (`staged_files.py`); live files are not touched, so a failed fetch
   or a corrupt chunk leaves DIR as it was (plus hidden staging).
4. Commit: patches are copied in from staging, moves are atomic `rename`s, extras of the old build
   are deleted, the staged tree is moved in (a directory DIR lacks in one rename: `tree_commit.py`),
   one `syncfs` makes all of it durable, then `current` names the new build.

The journal (`.parovoz/journal`) holds `{"t": "begin", "target", "base", "present", "layout"}` (the
inputs of the plan, so a resumed install computes the same one; `layout`: how staging is laid out, a
write phase of another layout is not resumed), chunk records and barriers (see
`staging.py`), and `{"t": "commit"}` once everything is staged and durable. A rerun resumes an
interrupted install of the same build; a commit in progress is always finished first (every step of
it is idempotent); an unfinished write phase for another build is dropped (nothing visible was
touched). Files the old build did not own are left alone: `verify --repair` reports and removes them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from google.protobuf.message import DecodeError

from parovoz.content import keys, manifest
from parovoz.content.errors import ContentError, KeyInvalid, ManifestRejected, UnsafePath
from parovoz.content.fs_sync import syncfs
from parovoz.content.plan import Plan, Strategy, plan_update
from parovoz.content.progress import Progress
from parovoz.content.staging import Stager, done_chunks, staged_files, tasks_of
from parovoz.content.state import InstallState, Journal, check_build_id
from parovoz.content.store import ChunkStore
from parovoz.content.targetfs import STATE_DIR, Target
from parovoz.content.tree_commit import move_tree
from parovoz.protos.platform.content.v1.manifest_pb2 import Manifest, SignedManifest

STAGING_LAYOUT = 2  # 2: files written whole are staged at tree/<path>; 1 (no "layout"): at <index>


@dataclass(frozen=True)
class InstallReport:
    build_id: str
    previous_build: str | None
    plan: Plan = field(repr=False)
    bytes_fetched: int
    chunks_fetched: int
    bytes_written: int
    chunks_reused: int  # chunk ranges taken from disk: copied from old files or left in place
    files_kept: int
    files_written: int
    files_patched: int
    files_moved: int
    files_deleted: int
    resumed: bool
    seconds: float
    chunks_patched: int = 0  # rebuilt from a fetched patch (`delta.py`) instead of fetched whole
    delta_misses: int = 0  # planned as a patch, fetched whole (a base chunk no longer on disk)


def install(
    signed_manifest: bytes,
    source: ChunkStore,
    target_dir: str | os.PathLike[str],
    trusted_keys: Iterable[Ed25519PublicKey],
    depot_key: bytes | None = None,
    concurrency: int = 8,
    progress: Progress | None = None,
    on_plan: Callable[[Plan], None] | None = None,
) -> InstallReport:
    started = time.monotonic()
    new = manifest.load(signed_manifest, list(trusted_keys))  # nothing is touched before this passes
    _check_depot_key(new, depot_key)
    with Target(target_dir) as target:
        for entry in new.files:
            target.check_parents(entry.path)
        state = InstallState(target)
        try:
            return _install(
                new,
                signed_manifest,
                source,
                target,
                state,
                depot_key,
                concurrency,
                progress,
                on_plan,
                started,
            )
        finally:
            state.close()


def saved_manifest(target_dir: str | os.PathLike[str], build_id: str) -> bytes:
    """The signed manifest of a recent install of `target_dir` (for `--to-build`), as it was kept."""
    path = Path(target_dir) / STATE_DIR / "manifests" / f"{check_build_id(build_id)}.manifest"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        kept = sorted(p.stem for p in path.parent.glob("*.manifest")) if path.parent.is_dir() else []
        raise ContentError(
            f"build {build_id} is not among the kept builds of {target_dir} ({', '.join(kept) or 'none'})"
        ) from None
    with os.fdopen(fd, "rb") as f:
        return f.read()


def kept_manifest(target_dir: str | os.PathLike[str], data: bytes) -> Manifest | None:
    """The manifest in `data` if it is byte for byte one kept by an install of `target_dir`."""
    try:
        parsed = _parse_kept(data)
        return parsed if saved_manifest(target_dir, parsed.build_id) == data else None
    except ContentError:
        return None


def _install(
    new: Manifest,
    signed: bytes,
    source: ChunkStore,
    target: Target,
    state: InstallState,
    depot_key: bytes | None,
    concurrency: int,
    progress: Progress | None,
    on_plan: Callable[[Plan], None] | None,
    started: float,
) -> InstallReport:
    records = Journal.read(state.fd)
    begin = records[0] if records and records[0].get("t") == "begin" else None
    if begin is not None and any(r.get("t") == "commit" for r in records):
        _finish_pending_commit(target, state, begin)
        records, begin = [], None
    current = state.current()
    resumed = (
        begin is not None
        and begin.get("target") == new.build_id
        and begin.get("base") == (current or "")
        and begin.get("layout") == STAGING_LAYOUT
    )
    if not resumed:
        state.clear_staging()
        state.remove_journal()
        records = []
    old = _saved(state, current)
    present = list(begin["present"]) if resumed and begin else _present(target, old)
    plan = plan_update(new, old, present)
    if on_plan is not None:
        on_plan(plan)
    state.save_manifest(new.build_id, signed)
    journal = Journal(state.fd)
    try:
        if not resumed:
            journal.append(
                {
                    "t": "begin",
                    "target": new.build_id,
                    "base": current or "",
                    "present": present,
                    "layout": STAGING_LAYOUT,
                }
            )
            journal.sync()
        tasks = tasks_of(plan)
        files = staged_files(plan)
        staged = {f.index: f.parts for f in files}
        done, recorded = done_chunks(records, {t.id: t for t in tasks}, state.staging_fd, staged)
        if progress is not None:
            progress.total = sum(t.size * len(t.dests) for t in tasks if t.id not in done)
        stager = Stager(
            target,
            state.staging_fd,
            journal,
            source,
            depot_key,
            recorded,
            progress.advance if progress else None,
        )
        stager.run(files, [t for t in tasks if t.id not in done], concurrency)
        journal.append({"t": "commit"})
        journal.sync()
    finally:
        journal.close()
    if progress is not None:
        progress.finish()
    written = _commit(target, state, new, plan)
    counters = stager.counters
    in_place = sum(len(f.entry.chunks) - len(f.writes) for f in plan.files if f.strategy is Strategy.PATCH)
    return InstallReport(
        build_id=new.build_id,
        previous_build=current,
        plan=plan,
        bytes_fetched=counters.bytes_fetched,
        chunks_fetched=counters.chunks_fetched,
        bytes_written=counters.bytes_written + written,
        chunks_reused=counters.chunks_copied + in_place,
        files_kept=plan.count(Strategy.KEEP),
        files_written=plan.count(Strategy.WRITE),
        files_patched=plan.count(Strategy.PATCH),
        files_moved=plan.count(Strategy.MOVE),
        files_deleted=len(plan.deletes),
        resumed=resumed,
        seconds=time.monotonic() - started,
        chunks_patched=counters.chunks_patched,
        delta_misses=counters.delta_misses,
    )


def _commit(target: Target, state: InstallState, new: Manifest, plan: Plan) -> int:
    """Make the staged build live; idempotent, so an interrupted commit is simply run again.

    Nothing here is synced one by one: one `syncfs` after every change makes the patched files, the
    renames and the deletions durable before `current` names the new build and the journal goes."""
    written = 0
    for f in plan.files:
        if f.strategy is Strategy.PATCH:
            staging_fd = state.staging_fd
            written += _apply_patch(target, staging_fd, f.index, f.path, f.entry.size, f.writes, f.entry.mode)
    for f in plan.files:
        if f.strategy is Strategy.MOVE:
            target.move(f.move_from, f.path)
            _chmod(target, f.path, f.entry.mode)
    for path in plan.deletes:
        target.unlink(path)
    for f in plan.files:
        if f.strategy is Strategy.KEEP and f.mode_changed:
            _chmod(target, f.path, f.entry.mode)
    move_tree(target, state.staging_fd)  # after the deletes: they may empty a directory a new one replaces
    syncfs(target.fd)
    state.set_current(new.build_id)
    state.clear_staging()
    state.remove_journal()
    state.prune_manifests()
    return written


def _apply_patch(
    target: Target,
    staging_fd: int,
    index: int,
    path: str,
    size: int,
    writes: list,
    mode: int,
) -> int:
    src = os.open(str(index), os.O_RDONLY | os.O_NOFOLLOW, dir_fd=staging_fd)
    try:
        dst = target.open(path, os.O_RDWR)
        try:
            os.ftruncate(dst, size)
            for r in writes:
                copied = 0
                while copied < r.size:
                    n = os.copy_file_range(src, dst, r.size - copied, r.offset + copied, r.offset + copied)
                    if n == 0:
                        raise ContentError(f"staged patch of {path!r} is shorter than planned")
                    copied += n
            os.fchmod(dst, mode & 0o777)
        finally:
            os.close(dst)
    finally:
        os.close(src)
    return sum(r.size for r in writes)


def _chmod(target: Target, path: str, mode: int) -> None:
    fd = target.open(path, os.O_RDONLY)
    try:
        os.fchmod(fd, mode & 0o777)
    finally:
        os.close(fd)


def _finish_pending_commit(target: Target, state: InstallState, begin: dict[str, object]) -> None:
    build, base = str(begin.get("target", "")), str(begin.get("base", ""))
    new = _saved(state, build)
    if new is None:
        raise ContentError(
            f"an interrupted install of build {build} cannot be finished: its manifest is gone"
        )
    plan = plan_update(new, _saved(state, base or None), [str(p) for p in begin.get("present", [])])  # type: ignore[union-attr]
    _commit(target, state, new, plan)


def _saved(state: InstallState, build_id: str | None) -> Manifest | None:
    """A manifest kept in the install state. It was verified when installed; it is our own record
    now, so it is parsed without a key (the publisher's key may have rotated since)."""
    if not build_id:
        return None
    data = state.manifest_bytes(build_id)
    return None if data is None else _parse_kept(data)


def _parse_kept(data: bytes) -> Manifest:
    signed, parsed = SignedManifest(), Manifest()
    try:
        signed.ParseFromString(data)
        parsed.ParseFromString(signed.manifest)
    except DecodeError:
        raise ManifestRejected("a kept manifest does not parse") from None
    manifest.validate(parsed)
    return parsed


def _present(target: Target, old: Manifest | None) -> list[str]:
    """Old files still on disk as regular files of the size the old build gave them."""
    if old is None:
        return []
    present = []
    for f in old.files:
        try:
            if target.is_regular(f.path, f.size):
                present.append(f.path)
        except UnsafePath:
            pass  # behind a symlink now: not ours to read
    return present


def _check_depot_key(new: Manifest, depot_key: bytes | None) -> None:
    if not new.encryption_key_id:
        return
    if depot_key is None:
        raise KeyInvalid(
            f"build {new.build_id} is encrypted (key {new.encryption_key_id}): a depot key is needed"
        )
    if keys.depot_key_id(depot_key) != new.encryption_key_id:
        raise KeyInvalid(
            f"the depot key given ({keys.depot_key_id(depot_key)}) is not the build's "
            f"({new.encryption_key_id})"
        )


__all__ = ["InstallReport", "ManifestRejected", "install", "saved_manifest"]
