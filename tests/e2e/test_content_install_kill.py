"""kill -9 during `parovoz content install` (from an HTTP origin) at random points, then resume.

The origin counts GETs per chunk: after several kills and a final run the tree is identical to the
source, and each kill costs at most `--jobs` chunks fetched again (the ones in flight)."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from parovoz.content import keys
from parovoz.content.origin import ChunkOrigin
from parovoz.content.store import LocalChunkStore
from tests.content_builds import generate_build
from tests.content_trees import make_build, tree
from tests.servers import ServedApp

JOBS = 4


class CountingOrigin:
    """The chunk origin behind a counter of chunk GETs, each slowed a little so kills land mid-install."""

    def __init__(self, app: Any, delay_s: float) -> None:
        self.app, self.delay_s = app, delay_s
        self.gets: Counter[str] = Counter()
        self.lock = threading.Lock()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"].startswith("/chunks/"):
            with self.lock:
                self.gets[scope["path"].rsplit("/", 1)[-1]] += 1
            await asyncio.sleep(self.delay_s)
        await self.app(scope, receive, send)

    @property
    def total(self) -> int:
        with self.lock:
            return sum(self.gets.values())


def _install_command(manifest: Path, url: str, target: Path, public: Path) -> list[str]:
    return [sys.executable, "-m", "parovoz", "content", "install", str(manifest), "--from", url,
            "--to", str(target), "--trust", str(public), "--jobs", str(JOBS)]  # fmt: skip


def test_kill_9_at_random_points_then_resume_gives_the_same_tree(tmp_path: Path) -> None:
    rng = random.Random(os.environ.get("PAROVOZ_TEST_SEED", "kill9"))
    key = keys.generate()
    public = tmp_path / "key.pub"
    public.write_bytes(keys.public_pem(key))
    src, target = tmp_path / "src", tmp_path / "dst"
    generate_build(src, pack_size=768 * 1024)
    store = LocalChunkStore(tmp_path / "store")
    built = make_build(src, store, key, "b1")
    manifest = tmp_path / "b1.manifest"
    manifest.write_bytes(built.signed)
    origin = CountingOrigin(ChunkOrigin(store.root), delay_s=0.004)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    kills = 0
    with ServedApp(origin) as served:
        command = _install_command(manifest, served.url, target, public)
        # kill points: random numbers of chunks fetched, spread over the whole fetch phase
        points = sorted(rng.sample(range(5, built.unique_chunks - 5), 4))
        for point in points:
            process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 60
            while origin.total < point and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.002)
            time.sleep(rng.uniform(0, 0.02))
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                kills += 1
            process.wait(timeout=30)
        final = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert final.returncode == 0, final.stderr
    assert kills >= 3, "the kills should land while the install is running"
    assert tree(target) == tree(src)
    fetched_again = sum(n - 1 for n in origin.gets.values() if n > 1)
    assert set(origin.gets) == {c.id for f in built.manifest.files for c in f.chunks}
    assert fetched_again <= JOBS * kills, (fetched_again, kills)
    print(f"kills: {kills}, chunks fetched again: {fetched_again}")
    assert not (target / ".parovoz" / "journal").exists()


@pytest.mark.parametrize("command", ["verify"])
def test_the_cli_verifies_an_install_and_exits_1_on_differences(tmp_path: Path, command: str) -> None:
    key = keys.generate()
    public = tmp_path / "key.pub"
    public.write_bytes(keys.public_pem(key))
    src, target = tmp_path / "src", tmp_path / "dst"
    generate_build(src, small_files=10, pack_files=1, pack_size=128 * 1024)
    store = LocalChunkStore(tmp_path / "store")
    manifest = tmp_path / "b1.manifest"
    manifest.write_bytes(make_build(src, store, key, "b1").signed)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "parovoz", "content", *args], env=env,
                              capture_output=True, text=True, timeout=60)  # fmt: skip

    installed = run(
        "install", str(manifest), "--from", str(store.root), "--to", str(target), "--trust", str(public)
    )
    assert installed.returncode == 0, installed.stderr
    assert "plan: fetch" in installed.stdout and "installed build b1" in installed.stdout
    assert run(command, str(manifest), "--dir", str(target)).returncode == 0  # a kept manifest: no key needed
    (target / "packs" / "pak00.pak").write_bytes(b"broken")
    differs = run(command, str(manifest), "--dir", str(target), "--trust", str(public))
    assert differs.returncode == 1 and "changed: packs/pak00.pak" in differs.stdout
    repaired = run(command, str(manifest), "--dir", str(target), "--repair", "--from", str(store.root))
    assert repaired.returncode == 0 and "clean after repair" in repaired.stdout, (
        repaired.stdout + repaired.stderr
    )
    forged = run("install", str(tmp_path / "key.pub"), "--from", str(store.root), "--to", str(target),
                 "--trust", str(public))  # fmt: skip
    assert forged.returncode == 1 and "Traceback" not in forged.stderr and "error:" in forged.stderr
