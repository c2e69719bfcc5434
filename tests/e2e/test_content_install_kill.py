"""kill -9 during `parovoz content install` (from an HTTP origin) at random points, then resume.

The origin counts GETs per chunk: after several kills and a final run the tree is identical to the
source, and each kill costs at most `--jobs` chunks fetched again (the ones in flight)."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from parovoz.content import keys
from parovoz.content.origin import ChunkOrigin
from parovoz.content.store import LocalChunkStore
from tests.content_builds import generate_build
from tests.content_kill import ENV, JOBS, CountingOrigin, install_command, kill_at
from tests.content_trees import make_build, tree
from tests.servers import ServedApp


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
    with ServedApp(origin) as served:
        command = install_command(manifest, served.url, target, public)
        # kill points: random numbers of chunks fetched, spread over the whole fetch phase
        points = sorted(rng.sample(range(5, built.unique_chunks - 5), 4))
        kills = kill_at(command, origin, points, jitter=rng)
        final = subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=120)
    assert final.returncode == 0, final.stderr
    assert kills >= 3, "the kills should land while the install is running"
    assert tree(target) == tree(src)
    fetched_again = origin.fetched_again()
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

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "parovoz", "content", *args], env=ENV,
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
