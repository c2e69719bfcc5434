"""The write phase of an install: every planned range lands in `<DIR>/.parovoz/staging/<n>`.

One task per distinct chunk id: its bytes are taken once (copied from an old file on disk, checked
against the id, else fetched from the store and decoded, which checks size and id) and written to
every staging file that needs them. Tasks run in a bounded thread pool (reads, SHA-256, zstd and
writes release the GIL); at most `2 × concurrency` are queued, so memory stays a few chunks a worker.

Journal: after its writes, a task appends `{"t": "c", "id": ...}`; that lands in the page cache at
once, so a kill -9 loses only the tasks in flight (≤ concurrency). Durability comes in batches: a
barrier (on its own thread, while fetching and writing go on) fsyncs the staging files written so far
(in parallel: `fsync_batch.py`), then the journal, then appends `{"t": "s", "n": N}`
saying the first N chunk records are durable. On resume, records past the last barrier are trusted
only after their staged ranges hash to the id again (after a power loss they may point at nothing).
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from parovoz.content import codec
from parovoz.content.errors import ContentError
from parovoz.content.fsync_batch import FsyncBatch
from parovoz.content.plan import Plan, Strategy
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


@dataclass
class StageCounters:
    bytes_fetched: int = 0
    chunks_fetched: int = 0
    bytes_written: int = 0
    chunks_copied: int = 0  # chunk ranges taken from files on disk
    local_misses: int = 0  # a local copy that no longer matched its id: fetched instead


def tasks_of(plan: Plan) -> list[Task]:
    by_id: dict[str, Task] = {}
    for f in plan.files:
        if f.strategy is Strategy.WRITE or f.strategy is Strategy.PATCH:
            for r in f.writes:
                task = by_id.get(r.id)
                if task is None:
                    task = by_id[r.id] = Task(r.id, r.size, plan.local.get(r.id))
                task.dests.append((f.index, r.offset))
    return list(by_id.values())


def staged_files(plan: Plan) -> list[tuple[int, int, int]]:
    """(index, size, mode) of the files the write phase stages."""
    return [
        (f.index, f.entry.size, f.entry.mode & 0o777)
        for f in plan.files
        if f.strategy is Strategy.WRITE or f.strategy is Strategy.PATCH
    ]


def done_chunks(
    records: list[dict[str, object]], tasks: dict[str, Task], staging_fd: int
) -> tuple[set[str], int]:
    """(ids already staged, number of chunk records) from the journal of an interrupted install."""
    chunk_ids = [str(r.get("id")) for r in records if r.get("t") == "c"]
    durable = max((int(str(r.get("n", 0))) for r in records if r.get("t") == "s"), default=0)
    done = set(chunk_ids[:durable])
    for cid in chunk_ids[durable:]:
        task = tasks.get(cid)
        if task is not None and all(_staged_matches(staging_fd, task, dest) for dest in task.dests):
            done.add(cid)
    return done, len(chunk_ids)


def _staged_matches(staging_fd: int, task: Task, dest: tuple[int, int]) -> bool:
    try:
        fd = os.open(str(dest[0]), os.O_RDONLY | os.O_NOFOLLOW, dir_fd=staging_fd)
    except FileNotFoundError:
        return False
    try:
        return hashlib.sha256(os.pread(fd, task.size, dest[1])).hexdigest() == task.id
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
        self._touched: set[int] = set()

    def create(self, files: list[tuple[int, int, int]]) -> None:
        """Create (or, on resume, keep) each staging file at its final size, with its final mode."""
        for index, size, mode in files:
            fd = os.open(str(index), os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600, dir_fd=self.staging_fd)
            try:
                if os.fstat(fd).st_size != size:
                    os.ftruncate(fd, size)
                os.fchmod(fd, mode)
            finally:
                os.close(fd)
            self._touched.add(index)

    def run(self, tasks: list[Task], concurrency: int) -> None:
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
                    while len(pending) >= window:
                        since_barrier += self._settle(pending)
                    pending.add(pool.submit(self._run_task, task))
                    due = (
                        since_barrier >= _BARRIER_EVERY_TASKS
                        or time.monotonic() - last_barrier > _BARRIER_EVERY_S
                    )
                    if due and (barrier is None or barrier.done()):
                        if barrier is not None:
                            barrier.result()  # re-raises a failed fsync
                        barrier = barriers.submit(self.barrier)
                        last_barrier, since_barrier = time.monotonic(), 0
                while pending:
                    self._settle(pending)
                if barrier is not None:
                    barrier.result()
            except BaseException:
                for future in pending:
                    future.cancel()
                raise
        self.barrier()

    def barrier(self) -> None:
        """Make every chunk record so far durable: its staged files, then the journal, then a record
        saying so. Chunk records are appended only after their writes, so the files touched by the
        first `covered` records are all in the `touched` taken together with the count."""
        with self._lock:
            covered, touched = self._recorded, self._touched
            self._touched = set()
        with FsyncBatch() as batch:
            for index in sorted(touched):
                batch.add_name(self.staging_fd, str(index))
        self.journal.sync()
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
        if data is None:
            blob = self.source.get(task.id)
            data = codec.decode(blob, task.id, task.size, self.depot_key)
            with self._lock:
                self.counters.bytes_fetched += len(blob)
                self.counters.chunks_fetched += 1
        for index, offset in task.dests:
            fd = os.open(str(index), os.O_WRONLY | os.O_NOFOLLOW, dir_fd=self.staging_fd)
            try:
                pwrite_all(fd, data, offset)
            finally:
                os.close(fd)
            if self.on_bytes is not None:
                self.on_bytes(len(data))
        with self._lock:
            self._touched.update(index for index, _ in task.dests)
            self.counters.bytes_written += len(data) * len(task.dests)
            self.journal.append({"t": "c", "id": task.id})
            self._recorded += 1

    def _local(self, task: Task) -> bytes | None:
        """The chunk read from the old file that held it, or None when it no longer holds it."""
        assert task.local is not None
        path, offset = task.local
        try:
            fd = self.target.open(path, os.O_RDONLY)
        except (OSError, ContentError):
            data = None
        else:
            try:
                data = os.pread(fd, task.size, offset)
            finally:
                os.close(fd)
        intact = data is not None and len(data) == task.size and codec.chunk_id(data) == task.id
        with self._lock:
            if intact:
                self.counters.chunks_copied += len(task.dests)
            else:
                self.counters.local_misses += 1
        return data if intact else None


def pwrite_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        n = os.pwrite(fd, view, offset)
        view, offset = view[n:], offset + n
