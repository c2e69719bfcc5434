"""Updates by per-chunk deltas: build v1, build v2 with `previous=[v1]`, install v1 then update to v2,
from a local store and over HTTP from the chunk origin; a damaged base falls back to the whole chunk;
an interrupted delta update resumes; an encrypted depot; `content build --previous` on the command line."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest

from parovoz.content import cli, delta, keys
from parovoz.content.build import BuildMeta, BuildReport, build
from parovoz.content.errors import ContentError
from parovoz.content.http_store import HttpChunkStore
from parovoz.content.install import InstallReport, install
from parovoz.content.origin import ChunkOrigin
from parovoz.content.plan import plan_update
from parovoz.content.store import ChunkStore, LocalChunkStore
from parovoz.protos.platform.content.v1.manifest_pb2 import Manifest
from tests.content_builds import SMALL_PARAMS, generate_build, scatter_edits
from tests.content_trees import CountingStore, tree
from tests.servers import ServedApp


class Pair:
    """v1 and v2 (scattered edits) of one source in one store, v2 built with `previous=[v1]`; v2 also
    built without deltas into a store of its own, for comparison."""

    def __init__(self, root: Path, depot_key: bytes | None = None) -> None:
        self.root, self.key, self.depot_key = root, keys.generate(), depot_key
        self.v1_src, self.v2_src = root / "v1", root / "v2"
        generate_build(self.v1_src, pack_size=1024 * 1024)
        shutil.copytree(self.v1_src, self.v2_src)
        scatter_edits(self.v2_src)
        self.store = LocalChunkStore(root / "store")
        self.v1 = self.build(self.v1_src, self.store, "v1")
        self.v2_plain = self.build(self.v2_src, LocalChunkStore(root / "plain-store"), "v2")
        self.v2 = self.build(self.v2_src, self.store, "v2", [self.v1])

    def build(
        self, src: Path, store: LocalChunkStore, build_id: str, previous: Sequence[BuildReport] = ()
    ) -> BuildReport:
        return build(
            src,
            store,
            params=SMALL_PARAMS,
            signing_key=self.key,
            depot_key=self.depot_key,
            meta=BuildMeta(build_id=build_id, created_at=1),
            previous=[p.manifest for p in previous],
        )

    def installed_v1(self, name: str) -> Path:
        dst = self.root / name
        install(self.v1.signed, self.store, dst, [self.key.public_key()], depot_key=self.depot_key)
        return dst

    def update(self, dst: Path, source: ChunkStore) -> InstallReport:
        return install(self.v2.signed, source, dst, [self.key.public_key()], self.depot_key, concurrency=4)

    def whole_chunks(self, report: InstallReport) -> int:
        """What the update would fetch without deltas: the stored size of every chunk it fetched."""
        stored = {c.id: c.stored_size for f in self.v2.manifest.files for c in f.chunks}
        return sum(stored[cid] for cid in report.plan.fetch)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Pair:
    return Pair(tmp_path_factory.mktemp("delta"))


def test_a_build_with_previous_lists_patches_for_its_changed_chunks(pair: Pair) -> None:
    v2, plain = pair.v2, pair.v2_plain
    assert v2.manifest.files == plain.manifest.files and v2.manifest.totals == plain.manifest.totals
    assert v2.deltas == len(v2.manifest.deltas) > 0.8 * v2.new_chunks  # nearly every changed chunk
    assert v2.new_patches == v2.deltas and 0 < v2.new_patch_bytes < v2.new_stored_bytes / 5
    v1_ids = {c.id for f in pair.v1.manifest.files for c in f.chunks}
    for listed in v2.manifest.deltas:
        assert listed.from_build == "v1" and listed.target not in v1_ids and set(listed.base) <= v1_ids
        assert pair.store.size(listed.patch_id) == listed.patch_stored_size
    # a re-run (after a crash, say) makes the very same manifest, though the store now has every chunk
    again = pair.build(pair.v2_src, pair.store, "v2", [pair.v1, pair.v1])  # given twice: counts once
    assert again.signed == v2.signed and again.new_patches == 0


def test_an_update_from_a_local_store_fetches_patches_not_chunks(pair: Pair) -> None:
    dst = pair.installed_v1("local")
    counting = CountingStore(pair.store)
    report = pair.update(dst, counting)
    assert tree(dst) == tree(pair.v2_src)
    patch_ids = {d.patch_id for d in pair.v2.manifest.deltas}
    assert report.chunks_patched == len(report.plan.deltas) == len(patch_ids) and report.delta_misses == 0
    whole = {cid for cid in report.plan.fetch if cid not in report.plan.deltas}
    assert set(counting.gets) == patch_ids | whole and max(counting.gets.values()) == 1
    assert report.chunks_fetched == len(whole)
    assert report.bytes_fetched == report.plan.fetch_bytes
    assert report.bytes_fetched < pair.whole_chunks(report) / 5


def test_an_update_over_http_from_the_origin_fetches_patches(pair: Pair) -> None:
    dst = pair.installed_v1("http")
    origin = ChunkOrigin(pair.store.root)
    with ServedApp(origin) as served, HttpChunkStore(served.url, concurrency=4) as remote:
        report = pair.update(dst, remote)
    origin.close()
    assert tree(dst) == tree(pair.v2_src)
    assert report.chunks_patched == len(report.plan.deltas) > 0 and report.delta_misses == 0
    assert report.bytes_fetched == report.plan.fetch_bytes < pair.whole_chunks(report) / 5


def test_a_damaged_base_falls_back_to_the_whole_chunk(pair: Pair) -> None:
    dst = pair.installed_v1("damaged")
    v1_paths = [f.path for f in pair.v1.manifest.files]
    planned = plan_update(pair.v2.manifest, pair.v1.manifest, v1_paths)
    base = next(iter(planned.deltas.values())).bases[0]
    users = [cid for cid, chosen in planned.deltas.items() if base in chosen.bases]
    with open(dst / base.path, "r+b") as f:  # same size: the file still counts as present
        f.seek(base.offset + base.size // 2)
        byte = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([byte[0] ^ 0xFF]))
    counting = CountingStore(pair.store)
    report = pair.update(dst, counting)
    assert tree(dst) == tree(pair.v2_src)
    assert report.delta_misses == len(users)
    assert report.chunks_patched == len(report.plan.deltas) - len(users)
    assert all(counting.gets[cid] == 1 for cid in users)  # fetched whole instead
    assert all(counting.gets[planned.deltas[cid].patch_id] == 0 for cid in users)


def test_an_interrupted_delta_update_resumes_without_fetching_finished_patches(pair: Pair) -> None:
    dst = pair.installed_v1("resumed")
    failing = CountingStore(pair.store, fail_after=len(pair.v2.manifest.deltas) // 2)
    with pytest.raises(ConnectionError):
        pair.update(dst, failing)
    assert tree(dst) == tree(pair.v1_src)  # nothing visible changed yet
    counting = CountingStore(pair.store)
    report = pair.update(dst, counting)
    assert report.resumed and tree(dst) == tree(pair.v2_src)
    twice = set(failing.gets) & set(counting.gets)
    assert len(twice) <= 4  # only what was in flight when the store went away
    assert report.chunks_patched + report.chunks_fetched < len(report.plan.fetch)


def test_an_encrypted_depot_updates_by_encrypted_patches(tmp_path: Path) -> None:
    depot_key = keys.generate_depot_key()
    enc = Pair(tmp_path, depot_key)
    assert enc.v2.deltas > 0
    for listed in enc.v2.manifest.deltas:
        blob = enc.store.get(listed.patch_id)
        assert blob[:4] == b"PZC1" and blob[4] & 0b10  # AES-256-GCM, like every chunk of the depot
    dst = enc.installed_v1("dst")
    report = enc.update(dst, enc.store)
    assert tree(dst) == tree(enc.v2_src)
    assert report.chunks_patched == enc.v2.deltas and report.bytes_fetched < enc.whole_chunks(report) / 5


def test_the_cli_builds_with_previous_and_refuses_one_signed_by_another_key(
    pair: Pair, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key_file, v1_file, out = tmp_path / "signing.key", tmp_path / "v1.manifest", tmp_path / "v2.manifest"
    keys.save_private(pair.key, key_file)
    v1_file.write_bytes(pair.v1.signed)
    args = ["build", str(pair.v2_src), "--store", str(pair.store.root), "--manifest", str(out),
            "--signing-key", str(key_file), "--min", "4K", "--avg", "16K", "--max", "64K",
            "--created-at", "1", "--build-id", "v2"]  # fmt: skip
    assert cli.main([*args, "--previous", str(v1_file)]) == 0
    assert f"deltas: {pair.v2.deltas} (against 1 previous builds)" in capsys.readouterr().out
    assert out.read_bytes() == pair.v2.signed  # the same manifest as the library call
    other = tmp_path / "other.key"
    keys.save_private(keys.generate(), other)
    out.unlink()
    assert cli.main([*args, "--previous", str(v1_file), "--signing-key", str(other)]) == 1  # the last wins
    error = capsys.readouterr().err
    assert "--previous" in error and "signed with this build's signing key" in error and not out.exists()


def test_more_previous_builds_than_the_limit_are_refused_before_any_work(pair: Pair, tmp_path: Path) -> None:
    olds = []
    for index in range(delta.MAX_PREVIOUS + 1):
        old = Manifest()
        old.CopyFrom(pair.v1.manifest)
        old.build_id = f"old{index}"
        olds.append(old)
    store = LocalChunkStore(tmp_path / "store")
    with pytest.raises(ContentError, match=f"at most {delta.MAX_PREVIOUS} previous builds"):
        build(pair.v2_src, store, params=SMALL_PARAMS, signing_key=pair.key, previous=olds)
    assert not [p for p in (tmp_path / "store").rglob("*") if p.is_file()]
