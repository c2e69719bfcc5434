"""The write phase of an install: every planned range lands in a staged file under
`<DIR>/.parovoz/staging/` (`tree/<path>` for a file written whole, `<n>` for a patch: `staged_files.py`).

One task per distinct chunk id: its bytes are taken once (copied from an old file on disk, checked
against the id, else fetched from the store and decoded, which checks size and id) and written to
every staging file that needs them. Tasks run in a bounded thread pool (reads, SHA-256, zstd and
writes release the GIL); at most `2 × concurrency` are queued, so memory stays a few chunks a worker.

Staged files (and their directories) are created on the installer's thread just before the first
task writing to them is submitted, so that creating thousands of them overlaps fetching. Tasks that
create a file are spread evenly among those that write into files already made (`spread_creates`):
in path order, a run of small files gives the workers one small chunk per create, and they wait for
the installer's thread (1.1–1.3 s of creates for the 2,528 files and 7,428 directories of the 1 GiB
bench build). Spread, the creates overlap the big files' chunks: that install over HTTP went from
3.66–3.86 to 3.26–3.45 s (3 pairs, old and new alternating).

Journal: after its writes, a task appends `{"t": "c", "id": ...}`; that lands in the page cache at
once, so a kill -9 loses only the tasks in flight (≤ concurrency). Durability comes in batches: a
barrier (on its own thread, while fetching and writing go on) syncs the filesystem once
(`fs_sync.syncfs`: staged data, directories and journal together), then appends `{"t": "s", "n": N}`
saying the first N chunk records are durable. Barriers every second also start the disk writing
early, so the flush at the end of the write phase is short. On resume, records past the last
barrier are trusted only after their staged ranges hash to the id again (after a power loss they may
point at nothing).
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from parovoz.content import codec, delta
from parovoz.content.fs_sync import syncfs
from parovoz.content.plan import Plan, Strategy
from parovoz.content.staged_files import StagedFile, StagedFiles, open_staged, patch_parts, write_parts
from parovoz.content.state import Journal
from parovoz.content.store import ChunkStore
from parovoz.content.targetfs import Target

_BARRIER_EVERY_S = 1.0
_BARRIER_EVERY_TASKS = 256


@dataclass
class Task:
    id: str
    size: int
    local: tuple[str, int] | None  # (old path, offset) on disk, or None: fetch
    dests: list[tuple[int, int]] = field(default_factory=list)  # (staging file index, offset)
    patch: delta.ChosenDelta | None = None  # a patch to rebuild it from old chunks, fetched instead


@dataclass
class StageCounters:
    bytes_fetched: int = 0
    chunks_fetched: int = 0
    bytes_written: int = 0
    chunks_copied: int = 0  # chunk ranges taken from files on disk
    local_misses: int = 0  # a local copy that no longer matched its id: fetched instead
    chunks_patched: int = 0  # rebuilt from a fetched patch and base chunks on disk
    delta_misses: int = 0  # a patch's base no longer on disk (or the patch not in the store): fetched whole


def tasks_of(plan: Plan) -> list[Task]:
    by_id: dict[str, Task] = {}
    for f in plan.files:
        if f.strategy is Strategy.WRITE or f.strategy is Strategy.PATCH:
            for r in f.writes:
                task = by_id.get(r.id)
                if task is None:
                    task = by_id[r.id] = Task(r.id, r.size, plan.local.get(r.id), patch=plan.deltas.get(r.id))
                task.dests.append((f.index, r.offset))
    return list(by_id.values())


def spread_creates(tasks: Sequence[Task]) -> list[Task]:
    """`tasks` with those that are the first to write some file spread evenly among the others, each
    group keeping its order (so files are still created in path order, each directory once)."""
    seen: set[int] = set()
    creating: list[Task] = []
    continuing: list[Task] = []
    for task in tasks:
        new = [index for index, _ in task.dests if index not in seen]
        seen.update(new)
        (creating if new else continuing).append(task)
    if not creating or not continuing:
        return list(tasks)
    # Merge by the fraction of each group done: the k-th of n lands at (k + 0.5) / n. A stable sort
    # keeps each group's order, and creating tasks go first on ties.
    keyed = [((k + 0.5) / len(creating), 0, k) for k in range(len(creating))]
    keyed += [((k + 0.5) / len(continuing), 1, k) for k in range(len(continuing))]
    keyed.sort()
    return [creating[k] if group == 0 else continuing[k] for _, group, k in keyed]


def staged_files(plan: Plan) -> list[StagedFile]:
    """The files the write phase stages, in manifest (path) order."""
    return [
        StagedFile(
            f.index,
            write_parts(f.path) if f.strategy is Strategy.WRITE else patch_parts(f.index),
            f.entry.size,
            f.entry.mode & 0o777,
        )
        for f in plan.files
        if f.strategy is Strategy.WRITE or f.strategy is Strategy.PATCH
    ]


def done_chunks(
    records: list[dict[str, object]],
    tasks: dict[str, Task],
    staging_fd: int,
    staged: Mapping[int, Sequence[str]],
) -> tuple[set[str], int]:
    """(ids already staged, number of chunk records) from the journal of an interrupted install;
    `staged`: file index -> its parts inside staging."""
    chunk_ids = [str(r.get("id")) for r in records if r.get("t") == "c"]
    durable = max((int(str(r.get("n", 0))) for r in records if r.get("t") == "s"), default=0)
    done = set(chunk_ids[:durable])
    for cid in chunk_ids[durable:]:
        task = tasks.get(cid)
        if task is not None and all(_staged_matches(staging_fd, staged[i], task, at) for i, at in task.dests):
            done.add(cid)
    return done, len(chunk_ids)


def _staged_matches(staging_fd: int, parts: Sequence[str], task: Task, offset: int) -> bool:
    try:
        fd = open_staged(staging_fd, parts, os.O_RDONLY)
    except OSError:
        return False  # missing (or not what we made): staged again
    try:
        return codec.read_chunk(fd, offset, task.size, task.id) is not None
    finally:
        os.close(fd)


class Stager:
    def __init__(
        self,
        target: Target,
        staging_fd: int,
        journal: Journal,
        source: ChunkStore,
        depot_key: bytes | None,
        recorded: int,
        on_bytes: Callable[[int], None] | None = None,
    ) -> None:
        self.target = target
        self.staging_fd = staging_fd
        self.journal = journal
        self.source = source
        self.depot_key = depot_key
        self.counters = StageCounters()
        self.on_bytes = on_bytes
        self._lock = threading.Lock()
        self._recorded = recorded  # chunk records in the journal so far
        self._files: StagedFiles | None = None

    def run(self, files: list[StagedFile], tasks: list[Task], concurrency: int) -> None:
        """Stage every file (created at its final size and mode, or kept on resume) and run the tasks;
        on return every staged byte and the journal saying so are durable."""
        self._files = StagedFiles(self.staging_fd, files, Counter(i for t in tasks for i, _ in t.dests))
        try:
            self._run(self._files, spread_creates(tasks), concurrency)
        finally:
            self._files.close()  # descriptors a failed run left open
        self.barrier()

    def _run(self, files: StagedFiles, tasks: list[Task], concurrency: int) -> None:
        window = 2 * max(concurrency, 1)
        pending: set[Future[None]] = set()
        last_barrier, since_barrier = time.monotonic(), 0
        # Barriers run on their own thread, one at a time and in order, so that fetching and writing
        # go on while the staged files are flushed to disk (a large part of an install's time).
        barrier: Future[None] | None = None
        with (
            ThreadPoolExecutor(max_workers=max(concurrency, 1), thread_name_prefix="content-install") as pool,
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="content-barrier") as barriers,
        ):
            try:
                for task in tasks:
                    for index, _ in task.dests:
                        files.create(index)  # while the tasks already submitted run
                    while len(pending) >= window:
                        since_barrier += self._settle(pending)
                    pending.add(pool.submit(self._run_task, task))
                    due = (
                        since_barrier >= _BARRIER_EVERY_TASKS
                        or time.monotonic() - last_barrier > _BARRIER_EVERY_S
                    )
                    if due and (barrier is None or barrier.done()):
                        if barrier is not None:
                            barrier.result()  # re-raises a failed sync
                        barrier = barriers.submit(self.barrier)
                        last_barrier, since_barrier = time.monotonic(), 0
                files.create_rest()
                while pending:
                    self._settle(pending)
                if barrier is not None:
                    barrier.result()
            except BaseException:
                for future in pending:
                    future.cancel()
                raise

    def barrier(self) -> None:
        """Make every chunk record so far durable, then append a record saying so. Chunk records are
        appended only after their writes, so one sync of the filesystem taken after the count covers
        the staged bytes of all of them, the staged files' directories and the records themselves."""
        with self._lock:
            covered = self._recorded
        syncfs(self.staging_fd)
        with self._lock:
            self.journal.append({"t": "s", "n": covered})

    def _settle(self, pending: set[Future[None]]) -> int:
        finished, _ = wait(pending, return_when=FIRST_COMPLETED)
        for future in finished:
            pending.discard(future)
            future.result()  # re-raises a worker's error: the install stops there
        return len(finished)

    def _run_task(self, task: Task) -> None:
        data = self._local(task) if task.local is not None else None
        if data is None and task.patch is not None:
            data = self._patched(task, task.patch)
        if data is None:
            blob = self.source.get(task.id)
            data = codec.decode(blob, task.id, task.size, self.depot_key)
            with self._lock:
                self.counters.bytes_fetched += len(blob)
                self.counters.chunks_fetched += 1
        assert self._files is not None
        for index, offset in task.dests:
            self._files.write(index, data, offset)
            if self.on_bytes is not None:
                self.on_bytes(len(data))
        with self._lock:
            self.counters.bytes_written += len(data) * len(task.dests)
            self.journal.append({"t": "c", "id": task.id})
            self._recorded += 1

    def _patched(self, task: Task, chosen: delta.ChosenDelta) -> bytes | None:
        """The chunk rebuilt from its patch, or None (counted) when it must be fetched whole."""
        rebuilt = delta.rebuild(self.target, chosen, self.source, task.id, task.size, self.depot_key)
        with self._lock:
            if rebuilt is None:
                self.counters.delta_misses += 1
                return None
            self.counters.bytes_fetched += rebuilt.fetched
            self.counters.chunks_patched += 1
        return rebuilt.data

    def _local(self, task: Task) -> bytes | None:
        """The chunk read from the old file that held it, or None when it no longer holds it."""
        assert task.local is not None
        path, offset = task.local
        data = self.target.read_chunk(path, offset, task.size, task.id)
        intact = data is not None
        with self._lock:
            if intact:
                self.counters.chunks_copied += len(task.dests)
            else:
                self.counters.local_misses += 1
        return data if intact else None
