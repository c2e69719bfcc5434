"""kill -9 during a delta update (v1 installed, v2 fetched as patches from an HTTP origin), then resume:
the tree ends equal to v2 and each kill costs at most `--jobs` patches fetched again."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from pathlib import Path

from parovoz.content import keys
from parovoz.content.build import BuildMeta, build
from parovoz.content.install import install
from parovoz.content.origin import ChunkOrigin
from parovoz.content.store import LocalChunkStore
from tests.content_builds import SMALL_PARAMS, generate_build, scatter_edits
from tests.content_kill import ENV, JOBS, CountingOrigin, install_command, kill_at
from tests.content_trees import tree
from tests.servers import ServedApp


def test_kill_9_during_a_delta_update_then_resume_gives_v2(tmp_path: Path) -> None:
    rng = random.Random(os.environ.get("PAROVOZ_TEST_SEED", "delta-kill9"))
    key = keys.generate()
    public = tmp_path / "key.pub"
    public.write_bytes(keys.public_pem(key))
    v1_src, v2_src, target = tmp_path / "v1", tmp_path / "v2", tmp_path / "dst"
    generate_build(v1_src, pack_size=1024 * 1024)
    shutil.copytree(v1_src, v2_src)
    scatter_edits(v2_src, every=24 * 1024)  # many changed chunks: the kills must land mid-update
    store = LocalChunkStore(tmp_path / "store")
    v1 = build(v1_src, store, params=SMALL_PARAMS, signing_key=key, meta=BuildMeta("g", build_id="v1"))
    v2 = build(v2_src, store, params=SMALL_PARAMS, signing_key=key, meta=BuildMeta("g", build_id="v2"),
               previous=[v1.manifest])  # fmt: skip
    install(v1.signed, store, target, [key.public_key()])
    manifest = tmp_path / "v2.manifest"
    manifest.write_bytes(v2.signed)
    patch_ids = {d.patch_id for d in v2.manifest.deltas}
    assert len(patch_ids) > 40
    origin = CountingOrigin(ChunkOrigin(store.root), delay_s=0.004)
    with ServedApp(origin) as served:
        command = install_command(manifest, served.url, target, public)
        kills = kill_at(command, origin, sorted(rng.sample(range(5, len(patch_ids) - 5), 3)))
        final = subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=120)
    assert final.returncode == 0, final.stderr
    assert kills >= 2, "the kills should land while the update is running"
    assert tree(target) == tree(v2_src)
    assert set(origin.gets) <= patch_ids | {c.id for f in v2.manifest.files for c in f.chunks}
    assert patch_ids <= set(origin.gets)  # every changed chunk came as its patch
    fetched_again = origin.fetched_again()
    assert fetched_again <= JOBS * kills, (fetched_again, kills)
    print(f"patches: {len(patch_ids)}, kills: {kills}, fetched again: {fetched_again}")
    assert "rebuilt from patches" in final.stdout and "(resumed)" in final.stdout
    assert not (target / ".parovoz" / "journal").exists()
