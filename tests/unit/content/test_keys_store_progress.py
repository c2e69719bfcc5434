"""Keys (files and formats), the local chunk store, and progress output."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from parovoz.content import codec, keys
from parovoz.content.errors import ChunkNotFound, KeyInvalid, UnsafePath
from parovoz.content.progress import Progress
from parovoz.content.store import ChunkStore, LocalChunkStore


def test_signing_key_files_round_trip(tmp_path: Path) -> None:
    key = keys.generate()
    keys.save_private(key, tmp_path / "k")
    assert (tmp_path / "k").stat().st_mode & 0o777 == 0o600
    loaded = keys.load_private(tmp_path / "k")
    assert keys.key_id(loaded) == keys.key_id(key) and len(keys.key_id(key)) == 16
    (tmp_path / "k.pub").write_bytes(keys.public_pem(key))
    for source in (tmp_path / "k.pub", keys.public_raw(key).hex(), tmp_path / "k"):
        assert keys.key_id(keys.load_public(source)) == keys.key_id(key)
    with pytest.raises(KeyInvalid, match="already exists"):
        keys.save_private(key, tmp_path / "k")


def test_bad_key_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "junk").write_text("not a key")
    with pytest.raises(KeyInvalid, match="not an unencrypted PEM"):
        keys.load_private(tmp_path / "junk")
    with pytest.raises(KeyInvalid, match="not a PEM or hex"):
        keys.load_public(tmp_path / "junk")
    with pytest.raises(KeyInvalid, match="cannot read"):
        keys.load_private(tmp_path / "absent")


def test_depot_keys_from_hex_and_files(tmp_path: Path) -> None:
    key = keys.generate_depot_key()
    keys.save_depot_key(key, tmp_path / "depot")
    assert keys.load_depot_key(str(tmp_path / "depot")) == key
    assert keys.load_depot_key(key.hex()) == key
    (tmp_path / "raw").write_bytes(key)
    assert keys.load_depot_key(str(tmp_path / "raw")) == key
    assert keys.depot_key_id(key) != keys.depot_key_id(keys.generate_depot_key())
    (tmp_path / "short").write_text("abcd")
    with pytest.raises(KeyInvalid, match="holds no depot key"):
        keys.load_depot_key(str(tmp_path / "short"))


def test_local_store_put_get_missing_size(tmp_path: Path) -> None:
    store = LocalChunkStore(tmp_path / "s")
    assert isinstance(store, ChunkStore)
    plain = b"hello chunk" * 100
    cid = codec.chunk_id(plain)
    blob = codec.encode(plain)
    other = codec.chunk_id(b"other")
    assert store.missing([cid, other, cid]) == {cid, other}
    store.put(cid, blob)
    store.put(cid, b"ignored: ids are immutable")
    assert store.get(cid) == blob and store.size(cid) == len(blob) and store.has(cid)
    assert store.missing([cid, other]) == {other}
    assert store.path(cid) == tmp_path / "s" / "chunks" / cid[:2] / cid
    assert list((tmp_path / "s" / "tmp").iterdir()) == []
    with pytest.raises(ChunkNotFound, match=other):
        store.get(other)
    with pytest.raises(ChunkNotFound):
        store.size(other)


def test_local_store_refuses_ids_that_are_not_chunk_ids(tmp_path: Path) -> None:
    store = LocalChunkStore(tmp_path)
    for bad in ("../../etc/passwd", "A" * 64, "ab", "0" * 63 + "/"):
        with pytest.raises(UnsafePath):
            store.put(bad, b"x")


def test_sweep_temp_removes_only_old_leftovers(tmp_path: Path) -> None:
    store = LocalChunkStore(tmp_path)
    store.tmp_dir.mkdir(parents=True)
    old, fresh = store.tmp_dir / "old", store.tmp_dir / "fresh"
    old.write_bytes(b"partial")
    fresh.write_bytes(b"being written")
    os.utime(old, (1, 1))
    assert store.sweep_temp(older_than_s=60) == 1
    assert not old.exists() and fresh.exists()


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_progress_prints_plain_periodic_lines_when_not_a_terminal() -> None:
    out, clock = io.StringIO(), _Clock()
    progress = Progress("build", 4 * 1024 * 1024, stream=out, tty=False, line_interval_s=5, clock=clock)
    clock.now = 1.0
    progress.advance(1024 * 1024)  # too soon for a line
    assert out.getvalue() == ""
    clock.now = 6.0
    progress.advance(1024 * 1024)
    progress.finish()
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and "\r" not in out.getvalue()
    assert lines[0].startswith("build: 2.0 MiB / 4.0 MiB ( 50.0%)")
    assert "0:06 left" in lines[0]  # 2 MiB in 6 s, 2 MiB to go


def test_progress_redraws_one_bar_on_a_terminal() -> None:
    out, clock = io.StringIO(), _Clock()
    progress = Progress("install", 100, stream=out, tty=True, clock=clock)
    for step in range(1, 5):
        clock.now = step * 0.5
        progress.advance(25)
    progress.finish()
    text = out.getvalue()
    assert text.count("\r") == 5 and text.endswith("\n") and text.count("\n") == 1
    assert "[############################]" in text and "100.0%" in text
