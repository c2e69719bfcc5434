"""Install, update, rollback and in-process resume on generated builds (small chunk params)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from parovoz.content import keys
from parovoz.content.build import BuildReport
from parovoz.content.errors import ChunkCorrupt, ContentError
from parovoz.content.install import install, saved_manifest
from parovoz.content.plan import Strategy
from parovoz.content.store import LocalChunkStore
from parovoz.content.targetfs import Target
from tests.content_builds import generate_build, insert_bytes
from tests.content_trees import CountingStore, make_build, tree


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return keys.generate()


@pytest.fixture(scope="module")
def base(
    tmp_path_factory: pytest.TempPathFactory, key: Ed25519PrivateKey
) -> tuple[Path, LocalChunkStore, BuildReport]:
    """One generated build in one store for the module (builds fsync every new blob: slow to redo)."""
    root = tmp_path_factory.mktemp("base")
    generate_build(root / "src")
    (root / "src" / "packs" / "pak00.pak").chmod(0o755)
    store = LocalChunkStore(root / "store")
    return root / "src", store, make_build(root / "src", store, key, "b1")


@pytest.fixture
def store(base: tuple[Path, LocalChunkStore, BuildReport]) -> LocalChunkStore:
    return base[1]


@pytest.fixture
def src(tmp_path: Path, base: tuple[Path, LocalChunkStore, BuildReport]) -> Path:
    """A copy of the module's build source, free to edit."""
    shutil.copytree(base[0], tmp_path / "src")
    return tmp_path / "src"


@pytest.fixture
def first(base: tuple[Path, LocalChunkStore, BuildReport]) -> BuildReport:
    return base[2]


def test_install_round_trips_a_generated_build(
    tmp_path: Path, src: Path, store: LocalChunkStore, first: BuildReport, key: Ed25519PrivateKey
) -> None:
    built = first
    counting = CountingStore(store)
    report = install(built.signed, counting, tmp_path / "dst", [key.public_key()], concurrency=4)
    assert tree(tmp_path / "dst") == tree(src)
    assert report.files_written == built.files and report.files_kept == 0
    assert max(counting.gets.values()) == 1  # a chunk shared by files is fetched once
    assert report.chunks_fetched == built.unique_chunks
    assert report.bytes_fetched == built.stored_bytes
    assert sorted((tmp_path / "dst" / ".parovoz" / "staging").iterdir()) == []
    assert not (tmp_path / "dst" / ".parovoz" / "journal").exists()
    assert (tmp_path / "dst" / ".parovoz" / "current").read_text().strip() == "b1"


def test_an_update_fetches_only_what_changed(
    tmp_path: Path, src: Path, store: LocalChunkStore, first: BuildReport, key: Ed25519PrivateKey
) -> None:
    dst = tmp_path / "dst"
    install(first.signed, store, dst, [key.public_key()])
    pak = src / "packs" / "pak01.pak"
    insert_bytes(pak, pak.stat().st_size // 2, b"inserted!" * 500)  # in the middle of a pack
    (src / "packs" / "pak02.pak").rename(src / "packs" / "renamed.pak")  # a rename
    edited = src / "packs" / "pak00.pak"
    data = bytearray(edited.read_bytes())
    data[1000:1100] = b"e" * 100  # an edit in place
    edited.write_bytes(bytes(data))
    victims = sorted(p for p in src.rglob("*.dat") if p.stat().st_size > 0)[:5]
    for victim in victims:
        victim.unlink()  # deletions
    second = make_build(src, store, key, "b2")
    counting = CountingStore(store)
    report = install(second.signed, counting, dst, [key.public_key()], concurrency=4)
    assert tree(dst) == tree(src)
    by_path = {f.path: f.strategy for f in report.plan.files}
    assert by_path["packs/renamed.pak"] is Strategy.MOVE
    assert by_path["packs/pak00.pak"] is Strategy.PATCH
    assert by_path["packs/pak01.pak"] is Strategy.WRITE
    assert report.files_deleted == len(victims) and report.files_moved == 1
    # an insert and an edit cost a few chunks of ~16 KiB, not the 3 MiB build
    assert report.bytes_fetched == report.plan.fetch_bytes
    assert 0 < report.bytes_fetched < 100 * 1024
    assert report.chunks_fetched <= 8
    assert report.bytes_written < 2 * 1024 * 1024


def test_rollback_to_the_previous_build_fetches_only_what_differs(
    tmp_path: Path,
    src: Path,
    store: LocalChunkStore,
    first: BuildReport,
    key: Ed25519PrivateKey,
) -> None:
    dst = tmp_path / "dst"
    install(first.signed, store, dst, [key.public_key()])
    snapshot = tree(dst)
    insert_bytes(src / "packs" / "pak01.pak", 5000, b"v2" * 3000)
    second = make_build(src, store, key, "b2")
    install(second.signed, store, dst, [key.public_key()])
    counting = CountingStore(store)
    report = install(saved_manifest(dst, "b1"), counting, dst, [key.public_key()])
    assert tree(dst) == snapshot
    old_ids = {c.id for f in second.manifest.files for c in f.chunks}
    wanted = {c.id: c.stored_size for f in first.manifest.files for c in f.chunks if c.id not in old_ids}
    assert set(counting.gets) == set(wanted)
    assert report.bytes_fetched == sum(wanted.values())
    assert (dst / ".parovoz" / "current").read_text().strip() == "b1"


def test_only_the_last_three_manifests_are_kept(
    tmp_path: Path, store: LocalChunkStore, key: Ed25519PrivateKey
) -> None:
    src, dst = tmp_path / "small", tmp_path / "dst"
    generate_build(src, small_files=5, pack_files=1, pack_size=64 * 1024)
    for n in range(5):
        (src / "version.txt").write_text(f"v{n}")
        install(make_build(src, store, key, f"b{n}").signed, store, dst, [key.public_key()])
    kept = sorted(p.name for p in (dst / ".parovoz" / "manifests").iterdir())
    assert kept == ["b2.manifest", "b3.manifest", "b4.manifest"]
    with pytest.raises(ContentError, match="not among the kept builds"):
        saved_manifest(dst, "b0")


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_a_damaged_chunk_fails_the_install_with_nothing_half_written(
    tmp_path: Path,
    src: Path,
    store: LocalChunkStore,
    first: BuildReport,
    key: Ed25519PrivateKey,
    damage: str,
) -> None:
    dst = tmp_path / "dst"
    install(first.signed, store, dst, [key.public_key()])
    before = tree(dst)
    pak = src / "packs" / "pak00.pak"
    data = bytearray(pak.read_bytes())
    data[5000:5100] = b"z" * 100  # an edit in place: the planner patches this file
    pak.write_bytes(bytes(data))
    insert_bytes(src / "packs" / "pak01.pak", 0, b"new front" * 100)
    second = make_build(src, store, key, "b2")
    old_ids = {c.id for f in first.manifest.files for c in f.chunks}
    new_ids = sorted({c.id for f in second.manifest.files for c in f.chunks} - old_ids)
    blob_path = store.path(new_ids[-1])
    good = blob_path.read_bytes()
    blob = bytearray(good)
    if damage == "flip":
        blob[len(blob) // 2] ^= 0x10
    else:
        del blob[len(blob) // 2 :]
    blob_path.write_bytes(bytes(blob))
    with pytest.raises(ChunkCorrupt):
        install(second.signed, store, dst, [key.public_key()], concurrency=2)
    assert tree(dst) == before  # neither the patched nor the rewritten pack changed
    assert (dst / ".parovoz" / "current").read_text().strip() == "b1"
    # the store is mended, the install resumes and completes
    blob_path.write_bytes(good)
    install(second.signed, store, dst, [key.public_key()])
    assert tree(dst) == tree(src)


def test_an_interrupted_install_resumes_without_fetching_finished_chunks_again(
    tmp_path: Path,
    src: Path,
    store: LocalChunkStore,
    first: BuildReport,
    key: Ed25519PrivateKey,
) -> None:
    dst, built = tmp_path / "dst", first
    failing = CountingStore(store, fail_after=built.unique_chunks // 2)
    with pytest.raises(ConnectionError):
        install(built.signed, failing, dst, [key.public_key()], concurrency=4)
    assert not any(p.is_file() for p in dst.iterdir())  # nothing visible yet
    counting = CountingStore(store)
    report = install(built.signed, counting, dst, [key.public_key()], concurrency=4)
    assert report.resumed
    assert tree(dst) == tree(src)
    twice = set(failing.gets) & set(counting.gets)
    assert len(twice) <= 4  # only chunks in flight when the store went away
    assert failing.total + counting.total - len(twice) == built.unique_chunks


def test_a_commit_interrupted_half_way_is_finished_by_the_next_run(
    tmp_path: Path,
    src: Path,
    store: LocalChunkStore,
    first: BuildReport,
    key: Ed25519PrivateKey,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dst = tmp_path / "dst"
    install(first.signed, store, dst, [key.public_key()])
    for victim in sorted(src.rglob("*.dat"))[:20]:
        victim.write_bytes(b"changed " + victim.read_bytes())
    second = make_build(src, store, key, "b2")
    real_replace, calls = Target.replace, []

    def crash_after_five(self: Target, *args: object) -> bool:
        calls.append(args)
        if len(calls) > 5:
            raise KeyboardInterrupt  # what a kill looks like from inside: the commit stops here
        return real_replace(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(Target, "replace", crash_after_five)
    with pytest.raises(KeyboardInterrupt):
        install(second.signed, store, dst, [key.public_key()])
    monkeypatch.setattr(Target, "replace", real_replace)
    counting = CountingStore(store)
    install(second.signed, counting, dst, [key.public_key()])
    assert tree(dst) == tree(src)
    assert counting.total == 0  # everything was staged before the commit began


def test_a_manifest_for_another_build_drops_an_unfinished_write_phase(
    tmp_path: Path,
    src: Path,
    store: LocalChunkStore,
    first: BuildReport,
    key: Ed25519PrivateKey,
) -> None:
    dst = tmp_path / "dst"
    with pytest.raises(ConnectionError):
        install(first.signed, CountingStore(store, fail_after=10), dst, [key.public_key()])
    (src / "extra.txt").write_text("b2 only")
    second = make_build(src, store, key, "b2")
    report = install(second.signed, store, dst, [key.public_key()])
    assert not report.resumed
    assert tree(dst) == tree(src)
