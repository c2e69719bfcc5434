"""The update planner: from what is installed to a new manifest, what to fetch and what to write.

Pure: it sees two manifests and which of the old files are present on disk (regular files of the
size the old manifest gives), nothing else, so that a resumed install recomputes the very same plan
from the same inputs (the installer records `present` in its journal).

Per file of the new manifest, one strategy:
- KEEP: the same path held the same bytes (same sha256 and size) in the old build.
- MOVE: an old file that the new build lacks held exactly these bytes (a rename): renamed into
  place, nothing fetched or written.
- WRITE: a new file written in staging from chunks: each chunk copied from any old file that holds
  it (old files stay intact until the commit) or fetched.
- PATCH: the old file at the same path is patched in place: chunks that sit at the same offset are
  left alone, the other ranges are staged first (so that a failed fetch leaves nothing half-written
  visible) and then copied in at the commit, i.e. written twice.
Both WRITE and PATCH can take every chunk found on disk, so they fetch the same bytes; the planner
still compares by bytes to fetch first and bytes to write second, and PATCH wins when more than half
of the file's bytes sit at the same offsets.
A chunk not on disk costs its stored size, or its patch's when the manifest has a delta whose base
chunks are all on disk (`delta.choose`; `Plan.deltas` records the choice).
"""

from __future__ import annotations

import enum
from collections.abc import Collection
from dataclasses import dataclass, field

from parovoz.content import delta
from parovoz.protos.platform.content.v1.manifest_pb2 import FileEntry, Manifest


class Strategy(enum.StrEnum):
    KEEP = "keep"
    MOVE = "move"
    WRITE = "write"
    PATCH = "patch"


@dataclass(frozen=True)
class Range:
    """Chunk `id` of `size` plain bytes (`stored_size` as a blob) at `offset` of a file."""

    id: str
    offset: int
    size: int
    stored_size: int


@dataclass(frozen=True)
class Cost:
    fetch_bytes: int
    write_bytes: int


@dataclass
class FilePlan:
    index: int  # the file's index in the new manifest (names its staging file)
    entry: FileEntry
    strategy: Strategy
    writes: list[Range] = field(default_factory=list)  # ranges to stage (all for WRITE, changed for PATCH)
    move_from: str = ""
    options: dict[Strategy, Cost] = field(default_factory=dict)  # what each possible strategy costs
    mode_changed: bool = False  # KEEP with another mode: a chmod at the commit

    @property
    def path(self) -> str:
        return self.entry.path


@dataclass
class Plan:
    files: list[FilePlan]
    deletes: list[str]  # old files the new build lacks (moved ones excluded), deleted at the commit
    local: dict[str, tuple[str, int]]  # chunk id -> (old path, offset) where a present old file holds it
    fetch: dict[str, int]  # chunk id -> bytes to fetch (its blob's, or its patch's: `deltas`), not on disk
    write_bytes: int
    all_new: Cost  # what writing every non-kept file from chunks would cost, for comparison
    deltas: dict[str, delta.ChosenDelta] = field(default_factory=dict)  # chunk id -> patch fetched instead

    @property
    def fetch_bytes(self) -> int:
        return sum(self.fetch.values())

    def count(self, strategy: Strategy) -> int:
        return sum(1 for f in self.files if f.strategy is strategy)


def ranges(entry: FileEntry) -> list[Range]:
    return [Range(c.id, c.offset, c.size, c.stored_size) for c in entry.chunks]


def plan_update(new: Manifest, old: Manifest | None, present: Collection[str]) -> Plan:
    """The plan bringing a directory holding `old` (its files in `present` intact) to `new`."""
    old_files = {f.path: f for f in old.files} if old is not None else {}
    present_old = {p: f for p, f in old_files.items() if p in present}
    local = _local_chunks(present_old.values())
    deltas = delta.choose(new, local, present_old.values())
    new_paths = {f.path for f in new.files}
    movable = _movable(present_old, new_paths)
    fetch: dict[str, int] = {}
    files: list[FilePlan] = []
    write_total = new_fetch = new_write = 0
    for index, entry in enumerate(new.files):
        plan = _plan_file(index, entry, present_old.get(entry.path), movable)
        if plan.strategy is Strategy.WRITE or plan.strategy is Strategy.PATCH:
            for r in ranges(entry):
                if r.id not in local and r.id not in fetch:
                    fetch[r.id] = _fetch_size(r, deltas)
            cost = _price(plan, entry, local, deltas)
            plan.options = {Strategy.WRITE: cost[0]}
            if cost[1] is not None:
                plan.options[Strategy.PATCH] = cost[1]
            if plan.strategy is Strategy.PATCH and _cheaper(cost[0], cost[1]):
                plan.strategy = Strategy.WRITE
            if plan.strategy is Strategy.WRITE:
                plan.writes = ranges(entry)
            write_total += plan.options[plan.strategy].write_bytes
        if plan.strategy is not Strategy.KEEP:
            new_fetch += sum(_fetch_size(r, deltas) for r in ranges(entry) if r.id not in local)
            new_write += entry.size
        files.append(plan)
    moved = {f.move_from for f in files if f.strategy is Strategy.MOVE}
    deletes = sorted(p for p in old_files if p not in new_paths and p not in moved)
    chosen = {cid: deltas[cid] for cid in fetch if cid in deltas}
    return Plan(files, deletes, local, fetch, write_total, Cost(new_fetch, new_write), chosen)


def _plan_file(index: int, entry: FileEntry, old: FileEntry | None, movable: dict[str, str]) -> FilePlan:
    if old is not None and old.sha256 == entry.sha256 and old.size == entry.size:
        return FilePlan(index, entry, Strategy.KEEP, mode_changed=(old.mode & 0o777) != (entry.mode & 0o777))
    source = movable.pop(entry.sha256, None) if entry.size > 0 else None
    if source is not None:
        return FilePlan(index, entry, Strategy.MOVE, move_from=source, options={Strategy.MOVE: Cost(0, 0)})
    if old is None:
        return FilePlan(index, entry, Strategy.WRITE)
    # PATCH for now; `plan_update` prices it against WRITE and may switch.
    same_place = {(c.id, c.offset, c.size) for c in old.chunks}
    changed = [r for r in ranges(entry) if (r.id, r.offset, r.size) not in same_place]
    return FilePlan(index, entry, Strategy.PATCH, writes=changed)


def _fetch_size(r: Range, deltas: dict[str, delta.ChosenDelta]) -> int:
    """What fetching chunk `r` costs: its patch when one was chosen, else its blob."""
    chosen = deltas.get(r.id)
    return chosen.patch_stored_size if chosen is not None else r.stored_size


def _price(
    plan: FilePlan, entry: FileEntry, local: dict[str, tuple[str, int]], deltas: dict[str, delta.ChosenDelta]
) -> tuple[Cost, Cost | None]:
    """(WRITE cost, PATCH cost or None): fetch counts this file's chunks not on disk (once each)."""
    seen: set[str] = set()
    fetch_all = 0
    for r in ranges(entry):
        if r.id not in local and r.id not in seen:
            seen.add(r.id)
            fetch_all += _fetch_size(r, deltas)
    write = Cost(fetch_all, entry.size)
    if plan.strategy is not Strategy.PATCH:
        return write, None
    # Unchanged ranges are on disk already, so PATCH fetches what WRITE fetches minus nothing: chunks
    # at the same offset are by definition local. Its writes are the changed ranges, twice.
    return write, Cost(fetch_all, 2 * sum(r.size for r in plan.writes))


def _cheaper(write: Cost, patch: Cost | None) -> bool:
    """True when WRITE beats PATCH: fewer bytes to fetch, then fewer (or as many) bytes to write."""
    if patch is None:
        return True
    return (write.fetch_bytes, write.write_bytes) <= (patch.fetch_bytes, patch.write_bytes)


def _local_chunks(files: Collection[FileEntry]) -> dict[str, tuple[str, int]]:
    local: dict[str, tuple[str, int]] = {}
    for f in files:
        for c in f.chunks:
            local.setdefault(c.id, (f.path, c.offset))
    return local


def _movable(present_old: dict[str, FileEntry], new_paths: set[str]) -> dict[str, str]:
    """sha256 -> an old present file the new build lacks, that can be renamed into a new path.

    Not a file whose path is a directory of a new path, nor one inside a directory that a new file
    replaces: the commit clears such paths away, and a move must never lose its own source."""
    new_dirs = {_dirs_of(p) for p in new_paths}
    all_new_dirs = set().union(*new_dirs) if new_dirs else set()
    movable: dict[str, str] = {}
    for path, f in sorted(present_old.items()):
        if path in new_paths or path in all_new_dirs or f.size == 0:
            continue
        if any(d in new_paths for d in _dirs_of(path)):
            continue
        movable.setdefault(f.sha256, path)
    return movable


def _dirs_of(path: str) -> frozenset[str]:
    """The directories above `path`: "a/b/c" -> {"a", "a/b"}."""
    parts = path.split("/")
    return frozenset("/".join(parts[:i]) for i in range(1, len(parts)))
