"""Verify an install against its manifest, and repair it by fetching only the bad chunks.

`verify` hashes every chunk range of every file (a file whose chunks all hash to their ids holds
exactly the manifest's bytes, so no separate whole-file hash is needed) and walks the directory for
files the manifest lacks. `repair` deletes extras, rewrites bad ranges of changed files in place
(they are damaged already: nothing to protect), writes missing files through staging with an atomic
rename, and fixes modes. All file access goes through `Target` (no symlink is ever followed).
"""

from __future__ import annotations

import os
import stat
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from parovoz.content import codec
from parovoz.content.errors import UnsafePath
from parovoz.content.plan import Range, ranges
from parovoz.content.progress import Progress
from parovoz.content.staged_files import pwrite_all
from parovoz.content.state import InstallState
from parovoz.content.store import ChunkStore
from parovoz.content.targetfs import STATE_DIR, Target
from parovoz.protos.platform.content.v1.manifest_pb2 import FileEntry, Manifest

_FILES_PER_BATCH = 256


@dataclass
class ChangedFile:
    path: str
    bad_chunks: list[Range]  # ranges whose bytes do not hash to the chunk id (or lie past the end)
    size_differs: bool = False
    mode_differs: bool = False


@dataclass
class VerifyReport:
    changed: list[ChangedFile] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    files_checked: int = 0
    bytes_checked: int = 0
    seconds: float = 0.0

    @property
    def clean(self) -> bool:
        return not (self.changed or self.missing or self.extra)


@dataclass
class RepairReport:
    bytes_fetched: int = 0
    chunks_fetched: int = 0
    files_fixed: int = 0
    files_restored: int = 0
    extras_removed: int = 0


def verify(
    manifest: Manifest,
    target_dir: str | os.PathLike[str],
    *,
    workers: int = 2,
    progress: Progress | None = None,
) -> VerifyReport:
    started = time.monotonic()
    report = VerifyReport()
    if progress is not None:
        progress.total = manifest.totals.bytes
    with Target(target_dir) as target, ThreadPoolExecutor(max_workers=max(workers, 1)) as pool:
        for entry, result in zip(
            manifest.files, pool.map(lambda e: _check(target, e, progress), manifest.files), strict=True
        ):
            report.files_checked += 1
            if result is None:
                report.missing.append(entry.path)
            elif result.bad_chunks or result.size_differs or result.mode_differs:
                report.changed.append(result)
            if result is not None:
                report.bytes_checked += entry.size
    report.extra = sorted(_extras(Path(target_dir), {f.path for f in manifest.files}), key=str.encode)
    if progress is not None:
        progress.finish()
    report.seconds = time.monotonic() - started
    return report


def _check(target: Target, entry: FileEntry, progress: Progress | None) -> ChangedFile | None:
    """None when the file is missing (or not a regular file), else what differs in it."""
    try:
        st = target.lstat(entry.path)
    except UnsafePath:
        return None  # behind a symlink: as good as missing
    if st is None or not stat.S_ISREG(st.st_mode):
        return None
    fd = target.open(entry.path, os.O_RDONLY)
    try:
        bad = []
        for r in ranges(entry):
            if codec.read_chunk(fd, r.offset, r.size, r.id) is None:
                bad.append(r)
            if progress is not None:
                progress.advance(r.size)
    finally:
        os.close(fd)
    return ChangedFile(
        entry.path, bad, st.st_size != entry.size, (st.st_mode & 0o777) != (entry.mode & 0o777)
    )


def _extras(root: Path, wanted: set[str]) -> list[str]:
    """Everything under `root` that is not a wanted file (state dir excluded); symlinks never followed."""
    found = []
    for directory, dirnames, filenames in os.walk(root, followlinks=False):
        rel = Path(directory).relative_to(root).as_posix()
        prefix = "" if rel == "." else rel + "/"
        if not prefix:
            dirnames[:] = [d for d in dirnames if d != STATE_DIR]
        for name in list(dirnames):
            if os.path.islink(os.path.join(directory, name)):
                found.append(prefix + name)  # a symlink to a directory: listed, never entered
                dirnames.remove(name)
        found.extend(prefix + name for name in filenames if prefix + name not in wanted)
    return found


def repair(
    manifest: Manifest,
    target_dir: str | os.PathLike[str],
    source: ChunkStore,
    *,
    report: VerifyReport | None = None,
    depot_key: bytes | None = None,
    concurrency: int = 8,
) -> RepairReport:
    """Bring `target_dir` to `manifest`, fetching only the chunks `verify` found bad or missing."""
    report = report or verify(manifest, target_dir)
    entries = {f.path: f for f in manifest.files}
    result = RepairReport()
    lock = threading.Lock()
    with Target(target_dir) as target:
        for path in report.extra:
            if target.unlink(path):
                result.extras_removed += 1
        state = InstallState(target)
        try:
            jobs: list[tuple[FileEntry, list[Range], bool]] = [
                (entries[c.path], c.bad_chunks, False) for c in report.changed
            ]
            jobs += [(entries[p], ranges(entries[p]), True) for p in report.missing]
            for start in range(0, len(jobs), _FILES_PER_BATCH):
                batch = jobs[start : start + _FILES_PER_BATCH]
                _repair_batch(target, state, batch, source, depot_key, concurrency, result, lock)
        finally:
            state.close()
    result.files_fixed = len(report.changed)
    result.files_restored = len(report.missing)
    return result


def _repair_batch(
    target: Target,
    state: InstallState,
    batch: list[tuple[FileEntry, list[Range], bool]],
    source: ChunkStore,
    depot_key: bytes | None,
    concurrency: int,
    result: RepairReport,
    lock: threading.Lock,
) -> None:
    fds: list[int] = []
    try:
        for index, (entry, _, missing) in enumerate(batch):
            if missing:  # written in staging, renamed into place once complete
                flags = os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
                fds.append(os.open(f"repair-{index}", flags, 0o600, dir_fd=state.staging_fd))
            else:
                fds.append(target.open(entry.path, os.O_RDWR))
            os.ftruncate(fds[-1], entry.size)

        def fix(job: tuple[int, Range]) -> None:
            fd, r = job
            blob = source.get(r.id)
            data = codec.decode(blob, r.id, r.size, depot_key)
            pwrite_all(fd, data, r.offset)
            with lock:
                result.bytes_fetched += len(blob)
                result.chunks_fetched += 1

        work = [(fds[i], r) for i, (_, bad, _) in enumerate(batch) for r in bad]
        with ThreadPoolExecutor(max_workers=max(concurrency, 1)) as pool:
            list(pool.map(fix, work))
        for fd, (entry, _, _) in zip(fds, batch, strict=True):
            os.fchmod(fd, entry.mode & 0o777)
            os.fsync(fd)
        for index, (entry, _, missing) in enumerate(batch):
            if missing:
                target.replace(state.staging_fd, f"repair-{index}", entry.path)
    finally:
        for fd in fds:
            os.close(fd)
