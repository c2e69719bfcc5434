"""Per-chunk binary deltas: a changed chunk rebuilt from old chunks already on the player's disk.

A patch is a zstd frame of the new chunk compressed with its *base* (the plain bytes of a few chunks
of a previous build, concatenated) as a raw-content dictionary: what `zstd --patch-from` does, per
chunk. The builder stores it as an ordinary chunk (id = SHA-256 of the frame, blob via `codec`), so
stores, the origin, CDNs, uploads and dedup need nothing new; the manifest lists it as a
`ChunkDelta`. Here:

- `bases_for`: which old chunks make a new chunk's base (builder; `delta_build.py` runs it);
- `make_patch` / `apply_patch`: the frame, and the chunk back from it (checked against the id);
- `check_deltas`: a manifest's deltas validated as hostile input (`manifest.validate` calls it);
- `choose`: the planner's pick, a delta whose every base chunk is on disk and that is cheaper;
- `rebuild`: the install's side, bases read from the old files, the patch fetched and applied.

zstd indexes only the last `1 << (hash_log + 3)` bytes of a raw-content dictionary (`dfast`, zstd's
level 3, keeps 1 MiB of it), so `hash_log` is raised to cover the whole base; the window is raised to
cover base + chunk, so that every base byte stays reachable. Long-distance matching does not index a
loaded dictionary and gained nothing here (measured), so it stays off.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import zstandard

from parovoz.content import codec
from parovoz.content.chunking import MAX_CHUNK_SIZE, MiB
from parovoz.content.errors import ChunkCorrupt, ChunkNotFound, ManifestRejected
from parovoz.content.store import ChunkStore
from parovoz.content.targetfs import Target
from parovoz.protos.platform.content.v1.manifest_pb2 import FileEntry, Manifest

# A build patches against at most this many previous builds.
MAX_PREVIOUS = 4
# A base is at most this many plain bytes in this many chunks (what an install holds per patch).
MAX_BASE_BYTES = 8 * MiB
MAX_BASE_CHUNKS = 64
# How far off the same place in a long run of changed chunks a narrowed base reaches, beyond the run's
# change in length (edits inside the run shift what follows them back and forth).
_SLACK = 256 * 1024
_HEX64 = re.compile(r"[0-9a-f]{64}")
_BUILD_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_MIN_WINDOW_LOG = 10  # zstd's own minimum


# -- base selection (builder) ---------------------------------------------------------------------


def bases_for(new: Sequence[tuple[str, int]], old: Sequence[tuple[str, int]]) -> dict[int, tuple[int, ...]]:
    """For each index of `new` (a file's chunks as (id, size)) whose id the old version `old` lacks,
    the indexes of `old` that make its base.

    Anchors are chunks present in both versions. Around a changed chunk, the nearest anchors before
    and after it in `new` are found in `old`; the old chunks between them are what the run of changed
    chunks there replaced (edits, inserts, deletions). No anchor on a side: the file's start or end.
    A run too long for one base (`MAX_BASE_BYTES`, `MAX_BASE_CHUNKS`) is narrowed to the old chunks
    at the same distance into the run, give or take the run's change in length and `_SLACK`. An
    empty base (a pure insert, or anchors that swapped order) is left out: the chunk is fetched whole."""
    old_at = {cid: index for index, (cid, _) in reversed(list(enumerate(old)))}  # first occurrence
    new_offsets, old_offsets = _offsets(new), _offsets(old)
    after: list[tuple[int, int]] = [(len(new), len(old))] * len(new)  # next anchor: (new, old index)
    upcoming = (len(new), len(old))
    for index in range(len(new) - 1, -1, -1):
        after[index] = upcoming
        if new[index][0] in old_at:
            upcoming = (index, old_at[new[index][0]])
    bases: dict[int, tuple[int, ...]] = {}
    before = (-1, -1)  # last anchor seen: (new, old index)
    for index, (cid, size) in enumerate(new):
        if cid in old_at:
            before = (index, old_at[cid])
            continue
        span = range(before[1] + 1, after[index][1])
        if not _fits(old, span):
            # Where the chunk sits in its run of changed chunks, and the same place in the old run.
            # Bytes inserted before it moved it forward, bytes deleted back: by at most the run's growth
            # or shrinkage (net: mixed edits are what `_SLACK` is for).
            run = new_offsets[before[0] + 1], new_offsets[after[index][0]]
            old_run = old_offsets[span.start], old_offsets[span.stop]  # span is not empty here
            growth = (run[1] - run[0]) - (old_run[1] - old_run[0])
            at = old_run[0] + new_offsets[index] - run[0]
            low = at - max(growth, 0) - _SLACK
            high = at + size + max(-growth, 0) + _SLACK
            # the old chunks of the run overlapping [low, high)
            span = range(
                bisect.bisect_right(old_offsets, low, span.start + 1, span.stop + 1) - 1,
                bisect.bisect_left(old_offsets, high, span.start, span.stop),
            )
        if span and _fits(old, span):
            bases[index] = tuple(span)
    return bases


def _offsets(chunks: Sequence[tuple[str, int]]) -> list[int]:
    """Where each chunk starts, and the file's end last."""
    offsets = [0]
    for _, size in chunks:
        offsets.append(offsets[-1] + size)
    return offsets


def _fits(old: Sequence[tuple[str, int]], span: range) -> bool:
    return len(span) <= MAX_BASE_CHUNKS and sum(old[i][1] for i in span) <= MAX_BASE_BYTES


# -- the patch itself -----------------------------------------------------------------------------


def window_log(base_size: int, size: int) -> int:
    """log2 of a window that reaches from the end of the chunk back to the start of its base."""
    return max(_MIN_WINDOW_LOG, (base_size + size - 1).bit_length())


def make_patch(base: bytes, plain: bytes, level: int = codec.DEFAULT_LEVEL) -> bytes:
    """A zstd frame of `plain` (content size written) compressed with `base` as its dictionary."""
    chosen = zstandard.ZstdCompressionParameters.from_level(
        level, source_size=len(plain), dict_size=len(base)
    )
    # See the module's docstring: the tables must index the whole base, not only its tail.
    hash_log = max(chosen.hash_log, (max(len(base), 1) - 1).bit_length() - 3)
    params = zstandard.ZstdCompressionParameters.from_level(
        level,
        source_size=len(plain),
        dict_size=len(base),
        window_log=window_log(len(base), len(plain)),
        hash_log=hash_log,
        write_content_size=1,
    )
    dictionary = zstandard.ZstdCompressionDict(base, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
    return zstandard.ZstdCompressor(compression_params=params, dict_data=dictionary).compress(plain)


def apply_patch(base: bytes, patch: bytes, size: int, expected_id: str) -> bytes:
    """The chunk `expected_id` of `size` bytes from its patch and base; `ChunkCorrupt` for anything else
    (a frame of another size, one needing a larger window, bytes that do not hash to the id)."""
    try:
        declared = zstandard.frame_content_size(patch)
    except zstandard.ZstdError as error:
        raise ChunkCorrupt(f"chunk {expected_id}: patch is not a zstd frame ({error})") from None
    if declared != size:
        raise ChunkCorrupt(f"chunk {expected_id}: patch declares {declared} bytes, the manifest {size}")
    dictionary = zstandard.ZstdCompressionDict(base, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
    decompressor = zstandard.ZstdDecompressor(
        dict_data=dictionary, max_window_size=1 << window_log(len(base), size)
    )
    try:
        plain = decompressor.decompress(patch, max_output_size=size)
    except zstandard.ZstdError as error:
        raise ChunkCorrupt(f"chunk {expected_id}: patch does not apply ({error})") from None
    if len(plain) != size or hashlib.sha256(plain).hexdigest() != expected_id:
        raise ChunkCorrupt(f"chunk {expected_id}: patch applied to its base gives other bytes")
    return plain


# -- manifest validation --------------------------------------------------------------------------


def check_deltas(manifest: Manifest) -> None:
    """Refuse deltas that are malformed, unsorted, duplicated, oversized or about unknown chunks.
    Runs after the files are validated (chunk ids and sizes are sound by then)."""
    sizes = {ref.id: ref.size for entry in manifest.files for ref in entry.chunks}
    if len(manifest.deltas) > MAX_PREVIOUS * len(sizes):
        raise ManifestRejected(f"manifest lists {len(manifest.deltas)} deltas for {len(sizes)} chunks")
    previous: tuple[str, str] | None = None
    for delta in manifest.deltas:
        where = f"delta of chunk {delta.target[:64]!r} from build {delta.from_build[:128]!r}"
        key = (delta.target, delta.from_build)
        if previous is not None and key <= previous:
            raise ManifestRejected(f"{where}: {'duplicate' if key == previous else 'deltas are not sorted'}")
        previous = key
        size = sizes.get(delta.target)
        if size is None:
            raise ManifestRejected(f"{where}: the target is not a chunk of this build")
        if not _BUILD_ID.fullmatch(delta.from_build):
            raise ManifestRejected(f"{where}: the build id is not a safe name")
        if not _HEX64.fullmatch(delta.patch_id):
            raise ManifestRejected(f"{where}: malformed patch id {delta.patch_id[:80]!r}")
        if not 0 < len(delta.base) <= MAX_BASE_CHUNKS:
            raise ManifestRejected(f"{where}: {len(delta.base)} base chunks (1 to {MAX_BASE_CHUNKS})")
        if not all(_HEX64.fullmatch(cid) for cid in delta.base):
            raise ManifestRejected(f"{where}: a base chunk id is malformed")
        if len(set(delta.base)) != len(delta.base) or delta.target in delta.base:
            raise ManifestRejected(f"{where}: a base chunk is listed twice, or is the target itself")
        if not 0 < delta.base_size <= MAX_BASE_BYTES:
            raise ManifestRejected(f"{where}: base of {delta.base_size} bytes (1 to {MAX_BASE_BYTES})")
        if not 0 < delta.patch_size <= min(size + codec.MAX_OVERHEAD, MAX_CHUNK_SIZE):
            raise ManifestRejected(f"{where}: patch size {delta.patch_size} is impossible for {size}")
        if not 0 < delta.patch_stored_size <= delta.patch_size + codec.MAX_OVERHEAD:
            raise ManifestRejected(f"{where}: patch stored size {delta.patch_stored_size} is impossible")


# -- the planner's choice -------------------------------------------------------------------------


@dataclass(frozen=True)
class BaseChunk:
    """A base chunk as it sits on disk: bytes [offset, offset + size) of the old file at `path`."""

    id: str
    path: str
    offset: int
    size: int


@dataclass(frozen=True)
class ChosenDelta:
    patch_id: str
    patch_size: int
    patch_stored_size: int
    from_build: str
    bases: tuple[BaseChunk, ...]


def choose(
    new: Manifest, local: Mapping[str, tuple[str, int]], old_files: Iterable[FileEntry]
) -> dict[str, ChosenDelta]:
    """chunk id -> the delta to fetch instead of it: its chunk is not on disk, every base chunk is
    (`local`: chunk id -> (old path, offset) in `old_files`, the present old files), the base adds up
    to what the delta declares, and the patch costs less than the chunk. Among several, the cheapest
    (then the first by build id): the same inputs always give the same choice."""
    if not new.deltas:
        return {}
    sizes = {ref.id: ref.size for entry in old_files for ref in entry.chunks}
    stored = {ref.id: ref.stored_size for entry in new.files for ref in entry.chunks}
    chosen: dict[str, ChosenDelta] = {}
    for delta in new.deltas:
        if delta.target in local or not all(cid in local for cid in delta.base):
            continue
        if sum(sizes[cid] for cid in delta.base) != delta.base_size:
            continue  # the old build's chunks are not what the builder patched against
        if delta.patch_stored_size >= stored[delta.target]:
            continue
        best = chosen.get(delta.target)
        if best is not None and (best.patch_stored_size, best.from_build) <= (
            delta.patch_stored_size,
            delta.from_build,
        ):
            continue
        bases = tuple(BaseChunk(cid, *local[cid], sizes[cid]) for cid in delta.base)
        chosen[delta.target] = ChosenDelta(
            delta.patch_id, delta.patch_size, delta.patch_stored_size, delta.from_build, bases
        )
    return chosen


# -- the install's side ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Rebuilt:
    data: bytes
    fetched: int  # bytes of the patch blob fetched


def rebuild(
    target: Target, chosen: ChosenDelta, source: ChunkStore, cid: str, size: int, key: bytes | None
) -> Rebuilt | None:
    """The chunk `cid` rebuilt from its patch, or None when that cannot be tried (a base chunk no
    longer intact on disk, the patch not in the store): the caller fetches the whole chunk then.
    A patch that is damaged or does not give the chunk is `ChunkCorrupt`, like a damaged chunk."""
    base = read_base(target, chosen.bases)
    if base is None:
        return None
    try:
        blob = source.get(chosen.patch_id)
    except ChunkNotFound:
        return None
    patch = codec.decode(blob, chosen.patch_id, chosen.patch_size, key)
    return Rebuilt(apply_patch(base, patch, size, cid), len(blob))


def read_base(target: Target, bases: Sequence[BaseChunk]) -> bytes | None:
    """The base chunks read from the old files and concatenated, or None if one no longer matches."""
    parts = []
    for base in bases:
        data = target.read_chunk(base.path, base.offset, base.size, base.id)
        if data is None:
            return None
        parts.append(data)
    return b"".join(parts)
