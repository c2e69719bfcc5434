"""Deferred durability of the local chunk store: no fsync per blob inside a build, one sync at the
end, and damaged blobs of a build that ended before its sync (a power loss) removed by the next."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pytest

from parovoz.content import codec, store_sync
from parovoz.content.store import LocalChunkStore


def _put(store: LocalChunkStore, plain: bytes) -> str:
    cid = codec.chunk_id(plain)
    store.put(cid, codec.encode(plain))
    return cid


def test_puts_inside_skip_fsync_and_one_sync_ends_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = LocalChunkStore(tmp_path)
    fsyncs: list[int] = []
    syncs: list[str] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (fsyncs.append(fd), real_fsync(fd))[1])
    monkeypatch.setattr(store_sync, "sync_filesystem", lambda path: syncs.append(os.fspath(path)))
    with store.deferred_sync():
        marker_fsyncs = len(fsyncs)  # the marker and its directory, before any blob
        markers = [p for p in store.tmp_dir.iterdir() if p.name.startswith(store_sync.MARKER_PREFIX)]
        ids = [_put(store, f"blob {i}".encode() * 100) for i in range(20)]
        assert len(fsyncs) == marker_fsyncs and syncs == []
    assert syncs == [os.fspath(store.root)] and len(markers) == 1 and not markers[0].exists()
    assert store.missing(ids) == set()
    _put(store, b"after the build: durable again")
    assert len(fsyncs) == marker_fsyncs + 2  # the blob and its directory


def test_a_dead_builds_damaged_blobs_are_removed(tmp_path: Path) -> None:
    store = LocalChunkStore(tmp_path)
    old = _put(store, b"synced by an earlier build" * 50)
    os.utime(store.path(old), (1, 1))
    # What a power loss can leave: a marker nobody holds, blobs under their names with lost bytes.
    store.tmp_dir.mkdir(parents=True, exist_ok=True)
    (store.tmp_dir / f"{store_sync.MARKER_PREFIX}dead").touch()
    os.utime(store.tmp_dir / f"{store_sync.MARKER_PREFIX}dead", (100, 100))
    good, zeroed, truncated = (_put(store, f"chunk {i}".encode() * 300) for i in range(3))
    store.path(zeroed).write_bytes(b"\0" * store.size(zeroed))
    store.path(truncated).write_bytes(store.path(truncated).read_bytes()[:20])
    os.utime(store.path(old), (1, 1))  # older than the marker: not a suspect, not even read
    store.path(old).write_bytes(b"never checked")
    os.utime(store.path(old), (1, 1))

    assert store_sync.recover_unsynced(store) == 2
    assert store.missing([good, zeroed, truncated, old]) == {zeroed, truncated}
    assert not any(p.name.startswith(store_sync.MARKER_PREFIX) for p in store.tmp_dir.iterdir())


def test_a_live_builds_marker_is_left_alone(tmp_path: Path) -> None:
    store = LocalChunkStore(tmp_path)
    store.tmp_dir.mkdir(parents=True)
    marker = store.tmp_dir / f"{store_sync.MARKER_PREFIX}live"
    fd = os.open(marker, os.O_WRONLY | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.utime(marker, (1, 1))
        damaged = _put(store, b"being written by the live build" * 40)
        store.path(damaged).write_bytes(b"")
        assert store_sync.recover_unsynced(store) == 0
        assert store.sweep_temp(older_than_s=0) == 0  # nor swept as an old temp file
        assert marker.exists() and store.has(damaged)
    finally:
        os.close(fd)


def test_sync_filesystem_runs(tmp_path: Path) -> None:
    store_sync.sync_filesystem(tmp_path)  # syncfs on Linux: must not raise on a real directory
