"""The builder's delta pass: patches of a new build's changed chunks against previous builds.

Runs after every chunk of the build is in the store (and before the manifest is signed). For each
previous build and each file it also had (same path), the chunks the previous build lacks anywhere
are *targets*; `delta.bases_for` gives each its base. Targets sharing a base form one job on the
build's pool: the base is read from the store once (decoded with the depot key; a base the store
lacks or cannot decode skips the job), each target is read back from the source (checked against
its id: a source changed since it was cut is skipped), patched, and kept only when its blob is under
3/4 of the target's own blob (`KEEP_BELOW`).

Targets are the chunks a previous build lacks, not the chunks the store lacked: the choice then
depends only on the two manifests, so a re-run after a crash (when the store already holds the new
chunks) makes the same deltas, and a chunk the store held for another reason is patched too.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from parovoz.content import codec, delta
from parovoz.content.errors import ChunkCorrupt, ChunkNotFound, ContentError
from parovoz.content.store import ChunkStore
from parovoz.protos.platform.content.v1.manifest_pb2 import ChunkDelta, FileEntry, Manifest

# A patch is kept when its blob is smaller than this share of the target's own blob: it costs store
# space on top of the chunk's, for a saving on every update. 1/2 dropped the chunk an append grew
# (old tail + new bytes: the patch saved 35 %).
KEEP_BELOW = 0.75


@dataclass(frozen=True)
class Target:
    id: str
    size: int
    stored_size: int
    disk_path: str  # the build source file holding it
    offset: int


@dataclass
class Job:
    from_build: str
    base: tuple[str, ...]
    base_sizes: tuple[int, ...]
    targets: list[Target] = field(default_factory=list)


@dataclass(frozen=True)
class DeltaReport:
    deltas: list[ChunkDelta]
    new_patches: int  # patch blobs put into the store by this build
    new_patch_bytes: int


def make_deltas(
    entries: Sequence[FileEntry],
    disk_paths: Sequence[str],
    previous: Sequence[Manifest],
    store: ChunkStore,
    pool: ThreadPoolExecutor,
    level: int,
    depot_key: bytes | None,
) -> DeltaReport:
    """Deltas of `entries` (the new build's files, stored sizes set; `disk_paths` their sources)
    against each of `previous`, sorted by target then previous build; patch blobs put in `store`."""
    jobs = [job for old in distinct(previous) for job in _jobs(entries, disk_paths, old)]
    made: list[tuple[ChunkDelta, int]] = []
    for result in pool.map(lambda job: _run(job, store, level, depot_key), jobs):
        made.extend(result)
    made.sort(key=lambda item: (item[0].target, item[0].from_build))
    fresh = [size for _, size in made if size]
    return DeltaReport([d for d, _ in made], len(fresh), sum(fresh))


def distinct(previous: Sequence[Manifest]) -> list[Manifest]:
    """`previous` with a build given twice once; `ContentError` when over `delta.MAX_PREVIOUS`."""
    unique = list({old.build_id: old for old in previous}.values())
    if len(unique) > delta.MAX_PREVIOUS:
        raise ContentError(f"at most {delta.MAX_PREVIOUS} previous builds, got {len(unique)}")
    return unique


def _jobs(entries: Sequence[FileEntry], disk_paths: Sequence[str], old: Manifest) -> list[Job]:
    old_files = {f.path: f for f in old.files}
    in_old = {ref.id for f in old.files for ref in f.chunks}
    jobs: dict[tuple[str, ...], Job] = {}
    seen: set[str] = set()
    for entry, disk_path in zip(entries, disk_paths, strict=True):
        before = old_files.get(entry.path)
        if before is None:
            continue
        old_ids = [ref.id for ref in before.chunks]
        spans = delta.bases_for(
            [(ref.id, ref.size) for ref in entry.chunks], [(ref.id, ref.size) for ref in before.chunks]
        )
        for index, span in spans.items():
            ref = entry.chunks[index]
            if ref.id in in_old or ref.id in seen:
                continue  # on the player's disk already, or patched once already
            seen.add(ref.id)
            base = tuple(dict.fromkeys(old_ids[i] for i in span))  # a chunk repeated in the span once
            job = jobs.get(base)
            if job is None:
                sizes = {before.chunks[i].id: before.chunks[i].size for i in span}
                job = jobs[base] = Job(old.build_id, base, tuple(sizes[cid] for cid in base))
            job.targets.append(Target(ref.id, ref.size, ref.stored_size, disk_path, ref.offset))
    return list(jobs.values())


def _run(job: Job, store: ChunkStore, level: int, depot_key: bytes | None) -> list[tuple[ChunkDelta, int]]:
    """(delta, bytes of a blob this put in the store, else 0) for each target worth a patch."""
    try:
        base = b"".join(
            codec.decode(store.get(cid), cid, size, depot_key)
            for cid, size in zip(job.base, job.base_sizes, strict=True)
        )
    except (ChunkNotFound, ChunkCorrupt):
        return []  # the previous build's chunks are not here (another store, another depot key)
    made = []
    for target in job.targets:
        plain = _read(target)
        if plain is None:
            continue
        patch = delta.make_patch(base, plain, level)
        if len(patch) > target.size:
            continue
        patch_id = codec.chunk_id(patch)
        blob = codec.encode(patch, level, depot_key, cid=patch_id)
        if len(blob) >= KEEP_BELOW * target.stored_size:
            continue
        if store.has(patch_id):
            stored, fresh = store.size(patch_id), 0
        else:
            store.put(patch_id, blob)
            stored = fresh = len(blob)
        made.append(
            (
                ChunkDelta(
                    target=target.id,
                    base=job.base,
                    patch_id=patch_id,
                    patch_size=len(patch),
                    patch_stored_size=stored,
                    from_build=job.from_build,
                    base_size=len(base),
                ),
                fresh,
            )
        )
    return made


def _read(target: Target) -> bytes | None:
    """The target's bytes read back from the source, or None if they are no longer those."""
    try:
        fd = os.open(target.disk_path, os.O_RDONLY)
    except OSError:
        return None
    try:
        return codec.read_chunk(fd, target.offset, target.size, target.id)
    finally:
        os.close(fd)
