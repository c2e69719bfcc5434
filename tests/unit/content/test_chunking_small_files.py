"""Small files are read whole and cut in memory (no per-file streaming buffer): the cuts must be
exactly those of the streaming path, around the size where the two paths meet."""

from __future__ import annotations

import io
import random
from pathlib import Path

import pytest

from parovoz.content.chunking import _cut_stream, cut
from tests.content_builds import SMALL_PARAMS

LIMIT = 2 * SMALL_PARAMS.max_size


@pytest.mark.parametrize("size", [0, 1, 4095, 4096, 70_000, LIMIT - 1, LIMIT, LIMIT + 1, 300_000])
def test_whole_read_cuts_match_the_stream(tmp_path: Path, size: int) -> None:
    data = random.Random(size).randbytes(size)
    (path := tmp_path / "f").write_bytes(data)
    by_path = [(c.offset, c.size, bytes(c.data)) for c in cut(path, SMALL_PARAMS)]
    streamed = [(c.offset, c.size, bytes(c.data)) for c in _cut_stream(io.BytesIO(data), SMALL_PARAMS)]
    assert by_path == streamed
    assert b"".join(piece for _, _, piece in by_path) == data
    if 0 < size <= SMALL_PARAMS.min_size:
        assert len(by_path) == 1
