"""A `parovoz content build` killed with -9 mid-way: the store holds only whole blobs, and a re-run
sends exactly the chunks still missing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from parovoz.content import codec, keys, manifest
from parovoz.content.store import LocalChunkStore
from tests.content_builds import MiB, generate_build


def _blobs(store_root: Path) -> list[Path]:
    chunks = store_root / "chunks"
    return [p for p in chunks.rglob("*") if p.is_file()] if chunks.exists() else []


def _command(src: Path, store: Path, out: Path, key: Path, level: int) -> list[str]:
    return [
        sys.executable, "-m", "parovoz", "content", "build", str(src), "--store", str(store),
        "--manifest", str(out), "--signing-key", str(key), "--min", "4K", "--avg", "16K", "--max", "64K",
        "--level", str(level), "--jobs", "2", "--created-at", "1700000000",
    ]  # fmt: skip


def test_kill_9_mid_build_then_resume(tmp_path: Path) -> None:
    src, store_root, out, key = tmp_path / "src", tmp_path / "store", tmp_path / "m", tmp_path / "key"
    generate_build(src, seed=11, small_files=60, pack_files=4, pack_size=3 * MiB)
    keys.save_private(signer := keys.generate(), key)
    # zstd level 19 is slow enough that the build is surely still running when it is killed.
    build = subprocess.Popen(
        _command(src, store_root, out, key, 19), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    while len(_blobs(store_root)) < 40:
        assert build.poll() is None, "the build finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    os.kill(build.pid, signal.SIGKILL)
    build.wait()
    assert build.returncode == -signal.SIGKILL and not out.exists()

    survivors = _blobs(store_root)
    for blob_path in survivors:  # every blob under its final name is whole and is its id's chunk
        blob = blob_path.read_bytes()
        codec.decode(blob, blob_path.name, int.from_bytes(blob[5:9], "big"))
    leftovers = list((store_root / "tmp").iterdir())
    assert len(leftovers) <= 2  # at most one temp file per worker, never under chunks/

    # The re-run may use a faster level: stored blobs keep theirs, the manifest records their sizes.
    resumed = subprocess.run(
        _command(src, store_root, out, key, 1), capture_output=True, text=True, timeout=120
    )
    assert resumed.returncode == 0, resumed.stderr
    lines = dict(line.split(": ", 1) for line in resumed.stdout.splitlines())
    m = manifest.load(out.read_bytes(), [signer.public_key()])
    assert 0 < len(survivors) < m.totals.unique_chunks
    assert int(lines["new chunks"]) == m.totals.unique_chunks - len(survivors)
    store = LocalChunkStore(store_root)
    for entry in m.files:
        plain = b"".join(codec.decode(store.get(ref.id), ref.id, ref.size) for ref in entry.chunks)
        assert plain == (src / entry.path).read_bytes()
