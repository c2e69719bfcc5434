"""Content-defined chunking: contiguous cuts within the size bounds, stable across an early insert."""

from __future__ import annotations

import io
import random

import pytest

from parovoz.content.chunking import ChunkingParams, cut, parse_size
from parovoz.content.codec import chunk_id
from tests.content_builds import SMALL_PARAMS, pack_bytes


def _ids(data: bytes) -> list[str]:
    return [chunk_id(piece.data) for piece in cut(io.BytesIO(data), SMALL_PARAMS)]


def test_cuts_are_contiguous_within_bounds_and_rebuild_the_input() -> None:
    data = random.Random(1).randbytes(1024 * 1024)
    pieces = list(cut(io.BytesIO(data), SMALL_PARAMS))
    offset = 0
    for piece in pieces:
        assert piece.offset == offset and piece.size == len(piece.data)
        assert piece.size <= SMALL_PARAMS.max_size
        offset += piece.size
    assert b"".join(piece.data for piece in pieces) == data
    # all but the last chunk are at least min_size
    assert all(piece.size >= SMALL_PARAMS.min_size for piece in pieces[:-1])
    assert 20 < len(pieces) < 200


def test_file_path_and_stream_give_the_same_cuts(tmp_path) -> None:
    data = pack_bytes(random.Random(2), 600 * 1024)
    (tmp_path / "f").write_bytes(data)
    from_path = [(p.offset, p.size) for p in cut(tmp_path / "f", SMALL_PARAMS)]
    from_stream = [(p.offset, p.size) for p in cut(io.BytesIO(data), SMALL_PARAMS)]
    assert from_path == from_stream


def test_empty_input_has_no_chunks() -> None:
    assert list(cut(io.BytesIO(b""), SMALL_PARAMS)) == []


@pytest.mark.parametrize("insert_at", [100, 5000, 40_000])
def test_an_early_insert_keeps_most_later_chunks(insert_at: int) -> None:
    rng = random.Random(insert_at)
    data = rng.randbytes(2 * 1024 * 1024)
    before = _ids(data)
    after = set(_ids(data[:insert_at] + rng.randbytes(4096) + data[insert_at:]))
    later = before[4:]  # chunks well after the edit
    kept = sum(cid in after for cid in later)
    assert kept / len(later) >= 0.9, (kept, len(later))


def test_params_are_checked() -> None:
    with pytest.raises(ValueError, match="min <= avg <= max"):
        ChunkingParams(min_size=64 * 1024, avg_size=16 * 1024, max_size=128 * 1024)
    with pytest.raises(ValueError, match="max size"):
        ChunkingParams(min_size=4096, avg_size=16384, max_size=64 * 1024 * 1024)


def test_parse_size() -> None:
    assert parse_size("4096") == 4096
    assert parse_size("16K") == parse_size("16KiB") == 16 * 1024
    assert parse_size("4m") == 4 * 1024 * 1024
    with pytest.raises(ValueError, match="not a size"):
        parse_size("lots")
