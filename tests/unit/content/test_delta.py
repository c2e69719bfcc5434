"""Per-chunk deltas: base selection around anchors, patch make/apply, refusing bad patches, and the
validation of hostile `ChunkDelta`s in a manifest."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable

import pytest
import zstandard

from parovoz.content import codec, delta, manifest
from parovoz.content.errors import ChunkCorrupt, ManifestRejected
from parovoz.protos.platform.content.v1.manifest_pb2 import ChunkDelta, Manifest

KiB, MiB = 1024, 1024 * 1024


def _hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# -- base selection -------------------------------------------------------------------------------


def _sized(ids: str | list[str], size: int = 10) -> list[tuple[str, int]]:
    return [(cid, size) for cid in ids]


def _run(prefix: str, count: int, size: int) -> list[tuple[str, int]]:
    """Anchors A and Z around `count` chunks of `size` bytes named `prefix0`, `prefix1`, …"""
    return [("A", size), *_sized([f"{prefix}{i}" for i in range(count)], size), ("Z", size)]


def test_a_changed_chunk_takes_the_old_chunks_between_its_anchors() -> None:
    old = _sized("abcd")
    # b was edited into B; a and c are anchors around it
    assert delta.bases_for(_sized("aBcd"), old) == {1: (1,)}
    # an edit across the b|c boundary: both new chunks replace b and c
    assert delta.bases_for(_sized("aBCd"), old) == {1: (1, 2), 2: (1, 2)}
    # a deletion that merged c into d: the new chunk replaces c and d (no anchor after it)
    assert delta.bases_for(_sized(["a", "b", "CD"]), old) == {2: (2, 3)}
    # an append to the last chunk: the base is the old last chunk
    assert delta.bases_for(_sized("abcD"), old) == {3: (3,)}


def test_a_pure_insert_between_anchors_has_no_base() -> None:
    # x sits between b and c, which are neighbours in the old file: nothing was replaced
    assert delta.bases_for(_sized("abxc"), _sized("abc")) == {}


def test_a_file_without_anchors_takes_the_whole_old_file() -> None:
    assert delta.bases_for(_sized("Z"), _sized("a")) == {0: (0,)}
    assert delta.bases_for(_sized("YZ"), _sized("abc")) == {0: (0, 1, 2), 1: (0, 1, 2)}


def test_a_run_too_long_for_one_base_is_narrowed_to_the_same_place_in_the_old_run() -> None:
    size = 1 * MiB  # 20 old chunks between the anchors: 20 MiB, over the 8 MiB cap
    old, new = _run("o", 20, size), _run("n", 20, size)
    bases = delta.bases_for(new, old)
    # n5 lies 5 MiB into the run: o4 to o6 (index 0 is A), around 5 MiB into theirs ± 256 KiB
    assert bases[6] == (5, 6, 7)
    assert bases[1] == (1, 2)  # at the run's start: nothing before it to take
    assert set(bases) == set(range(1, 21))
    # a run that grew by 3 MiB: n11 sits 0 to 3 MiB further into the run than its old bytes did
    assert delta.bases_for(_run("n", 23, size), old)[12] == tuple(range(8, 14))  # o7 to o12 (index 0 is A)
    # one that shrank by 3 MiB: 0 to 3 MiB less far
    assert delta.bases_for(_run("n", 17, size), old)[6] == tuple(range(5, 11))  # o4 to o9


def test_a_base_over_the_caps_is_left_out() -> None:
    big = delta.MAX_BASE_BYTES // 2 + 1
    assert delta.bases_for(_sized("Z"), _sized("ab", big)) == {}  # both still overlap when narrowed
    many = [f"o{i}" for i in range(delta.MAX_BASE_CHUNKS + 1)]
    assert delta.bases_for(_sized("Z"), _sized(many, 1)) == {}
    assert delta.bases_for(_sized("Z"), _sized(many[:-1], 1)) == {0: tuple(range(len(many) - 1))}


def test_anchors_that_swapped_order_give_no_base() -> None:
    # c now comes before a: around X the anchors are c (old 2) then a (old 0): nothing between
    assert delta.bases_for(_sized("cXa"), _sized("abc")) == {}


# -- patches --------------------------------------------------------------------------------------


def _pair(rng: random.Random, base_size: int, at: int) -> tuple[bytes, bytes]:
    """A base and a new chunk: 256 KiB of the base from `at`, with 4 KiB overwritten."""
    base = rng.randbytes(base_size)
    new = bytearray(base[at : at + 256 * KiB])
    new[100 * KiB : 104 * KiB] = rng.randbytes(4 * KiB)
    return base, bytes(new)


def test_a_patch_round_trips_and_is_far_smaller_than_the_chunk() -> None:
    base, new = _pair(random.Random(1), 512 * KiB, 128 * KiB)
    patch = delta.make_patch(base, new)
    assert len(patch) < 8 * KiB  # the 4 KiB of new bytes plus a little
    assert delta.apply_patch(base, patch, len(new), codec.chunk_id(new)) == new
    assert delta.make_patch(base, new) == patch  # deterministic: a re-run makes the same patch


def test_the_start_of_a_large_base_is_reachable() -> None:
    # zstd indexes only the tail of a large dictionary unless its tables are raised to cover it
    base, new = _pair(random.Random(2), 6 * MiB, 0)
    patch = delta.make_patch(base, new)
    assert len(patch) < 8 * KiB, len(patch)
    assert delta.apply_patch(base, patch, len(new), codec.chunk_id(new)) == new


def test_a_patch_of_another_size_is_refused() -> None:
    base, new = _pair(random.Random(3), 512 * KiB, 0)
    patch = delta.make_patch(base, new)
    with pytest.raises(ChunkCorrupt, match="declares"):
        delta.apply_patch(base, patch, len(new) - 1, codec.chunk_id(new[:-1]))


def test_a_patch_that_would_expand_beyond_the_size_is_refused() -> None:
    # a frame without its content size written, decoding to more than the manifest allows
    base = random.Random(4).randbytes(64 * KiB)
    frame = zstandard.ZstdCompressor(write_content_size=False).compress(b"\0" * (1 * MiB))
    with pytest.raises(ChunkCorrupt):
        delta.apply_patch(base, frame, 1000, codec.chunk_id(b"\0" * 1000))


def test_a_patch_giving_other_bytes_is_refused() -> None:
    base, new = _pair(random.Random(5), 512 * KiB, 0)
    patch = delta.make_patch(base, new)
    with pytest.raises(ChunkCorrupt, match="other bytes"):
        delta.apply_patch(base, patch, len(new), _hex("something else"))
    other_base = random.Random(6).randbytes(len(base))
    with pytest.raises(ChunkCorrupt):
        delta.apply_patch(other_base, patch, len(new), codec.chunk_id(new))
    with pytest.raises(ChunkCorrupt):
        delta.apply_patch(base, b"not a zstd frame at all", len(new), codec.chunk_id(new))


# -- manifest validation --------------------------------------------------------------------------


def _with_delta() -> Manifest:
    m = Manifest(format=1, build_id="b-2", game_id="g", depot_id="d", branch="public", created_at=1)
    m.chunking.min_size, m.chunking.avg_size, m.chunking.max_size = 4 * KiB, 16 * KiB, 64 * KiB
    entry = m.files.add(path="pack", size=40 * KiB, mode=0o644, sha256=_hex("pack"))
    entry.chunks.add(id=_hex("c0"), offset=0, size=20 * KiB, stored_size=10 * KiB)
    entry.chunks.add(id=_hex("c1"), offset=20 * KiB, size=20 * KiB, stored_size=10 * KiB)
    m.totals.CopyFrom(manifest.compute_totals(m.files))
    for target, build in ((_hex("c0"), "b-1"), (_hex("c1"), "b-0"), (_hex("c1"), "b-1")):
        m.deltas.add(target=target, base=[_hex("old")], patch_id=_hex(f"p{target}{build}"), patch_size=900,
                     patch_stored_size=909, from_build=build, base_size=20 * KiB)  # fmt: skip
    m.deltas.sort(key=lambda d: (d.target, d.from_build))
    return m


def _set(field: str, value: object, index: int = 0) -> Callable[[Manifest], None]:
    def mutate(m: Manifest) -> None:
        setattr(m.deltas[index], field, value)

    return mutate


def _bases(ids: list[str]) -> Callable[[Manifest], None]:
    def mutate(m: Manifest) -> None:
        del m.deltas[0].base[:]
        m.deltas[0].base.extend(ids)

    return mutate


def _reverse(m: Manifest) -> None:
    ordered = list(reversed(m.deltas))
    del m.deltas[:]
    m.deltas.extend(ordered)


def _duplicate(m: Manifest) -> None:
    last = ChunkDelta()
    last.CopyFrom(m.deltas[-1])
    m.deltas.append(last)


def _many(m: Manifest) -> None:
    del m.deltas[:]
    for i in range(2 * delta.MAX_PREVIOUS + 1):
        d = _with_delta().deltas[0]
        d.from_build = f"b{i:03d}"
        m.deltas.add().CopyFrom(d)


def test_a_manifest_with_valid_deltas_passes_and_one_without_still_loads() -> None:
    manifest.validate(_with_delta())
    plain = _with_delta()
    del plain.deltas[:]
    manifest.validate(plain)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (_reverse, "not sorted"),
        (_duplicate, "duplicate"),
        (_set("target", _hex("not in this build")), "not a chunk of this build"),
        (_set("target", "ABC"), "not a chunk of this build"),
        (_set("from_build", "../etc"), "not a safe name"),
        (_set("from_build", ""), "not a safe name"),
        (_set("patch_id", "Z" * 64), "malformed patch id"),
        (_bases([]), "0 base chunks"),
        (_bases([_hex(str(i)) for i in range(delta.MAX_BASE_CHUNKS + 1)]), "base chunks"),
        (_bases(["nothex"]), "malformed"),
        (_bases([_hex("old"), _hex("old")]), "listed twice"),
        (_bases([_hex("c0")]), "the target itself"),
        (_set("base_size", 0), "base of 0 bytes"),
        (_set("base_size", delta.MAX_BASE_BYTES + 1), "base of"),
        (_set("patch_size", 0), "patch size"),
        (_set("patch_size", 20 * KiB + codec.MAX_OVERHEAD + 1), "patch size"),
        (_set("patch_stored_size", 0), "stored size"),
        (_set("patch_stored_size", 900 + codec.MAX_OVERHEAD + 1), "stored size"),
        (_many, "deltas for 2 chunks"),
    ],
)
def test_hostile_deltas_are_refused(mutate: Callable[[Manifest], None], message: str) -> None:
    m = _with_delta()
    mutate(m)
    with pytest.raises(ManifestRejected, match=message):
        manifest.validate(m)
