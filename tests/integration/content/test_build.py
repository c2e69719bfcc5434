"""Builds of generated trees into a local chunk store: round trip, reuse, determinism, refusals."""

from __future__ import annotations

import hashlib
import os
import unicodedata
from pathlib import Path

import pytest

from parovoz.content import codec, keys, manifest
from parovoz.content.build import BuildMeta, build
from parovoz.content.cli import main as content_main
from parovoz.content.errors import ContentError, SourceRejected, UnsafePath
from parovoz.content.store import LocalChunkStore
from parovoz.protos.platform.content.v1.manifest_pb2 import Manifest
from tests.content_builds import SMALL_PARAMS, generate_build, insert_bytes

SIGNER = keys.generate()


def _build(src: Path, store: LocalChunkStore, **options):  # type: ignore[no-untyped-def]
    options.setdefault("meta", BuildMeta(created_at=1_700_000_000))
    return build(src, store, params=SMALL_PARAMS, signing_key=SIGNER, workers=2, **options)


def _check_store_rebuilds(src: Path, m: Manifest, store: LocalChunkStore, key: bytes | None = None) -> None:
    """Every file of the manifest, rebuilt from the store's blobs, equals the source file."""
    for entry in m.files:
        plain = b"".join(codec.decode(store.get(ref.id), ref.id, ref.size, key) for ref in entry.chunks)
        on_disk = (src / entry.path).read_bytes()
        assert plain == on_disk, entry.path
        assert hashlib.sha256(plain).hexdigest() == entry.sha256
        assert entry.mode == (src / entry.path).stat().st_mode & 0o777
        for ref in entry.chunks:
            assert ref.stored_size == store.size(ref.id)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    generate_build(src, seed=7)
    os.chmod(src / "packs/pak01.pak", 0o755)
    return src


def test_build_round_trip(tree: Path, tmp_path: Path) -> None:
    store = LocalChunkStore(tmp_path / "store")
    report = _build(tree, store)
    m = manifest.load(report.signed, [SIGNER.public_key()])
    expected = sorted(
        (p.relative_to(tree).as_posix() for p in tree.rglob("*") if p.is_file()), key=str.encode
    )
    assert [entry.path for entry in m.files] == expected
    _check_store_rebuilds(tree, m, store)
    assert report.files == len(expected) and report.bytes == sum((tree / p).stat().st_size for p in expected)
    assert report.unique_chunks < report.chunks  # the copied pack and the shared region dedup
    assert report.new_chunks == report.unique_chunks
    blobs = [p for p in (tmp_path / "store/chunks").rglob("*") if p.is_file()]
    assert len(blobs) == report.unique_chunks
    assert report.new_stored_bytes == report.stored_bytes == sum(p.stat().st_size for p in blobs)
    assert report.stored_bytes < report.bytes  # text-like content compresses
    empty = [entry for entry in m.files if entry.size == 0]
    assert empty and all(not entry.chunks for entry in empty)
    assert any(entry.path.startswith("d0/d1/d2/d3/d4/d5/d6/d7/d8/d9/d10/d11/") for entry in m.files)
    assert any(not entry.path.isascii() for entry in m.files)


def test_rebuild_sends_nothing_and_is_deterministic(tree: Path, tmp_path: Path) -> None:
    store = LocalChunkStore(tmp_path / "store")
    first = _build(tree, store)
    again = _build(tree, store)
    assert again.new_chunks == 0 and again.new_bytes == 0 and again.new_stored_bytes == 0
    assert again.signed == first.signed
    elsewhere = _build(tree, LocalChunkStore(tmp_path / "other-store"))
    assert elsewhere.signed == first.signed
    later = _build(tree, store, meta=BuildMeta(created_at=1_800_000_000))
    assert later.manifest.build_id != first.manifest.build_id


def test_an_insert_at_the_front_of_a_pack_sends_a_few_chunks(tree: Path, tmp_path: Path) -> None:
    store = LocalChunkStore(tmp_path / "store")
    first = _build(tree, store)
    insert_bytes(tree / "packs/pak02.pak", 0, os.urandom(4096))
    second = _build(tree, store)
    pack_chunks = len(next(e for e in second.manifest.files if e.path == "packs/pak02.pak").chunks)
    assert pack_chunks > 40
    assert 1 <= second.new_chunks <= 3, second.new_chunks
    assert second.new_bytes < 3 * SMALL_PARAMS.max_size
    assert second.manifest.build_id != first.manifest.build_id


def test_an_encrypted_build(tree: Path, tmp_path: Path) -> None:
    store = LocalChunkStore(tmp_path / "store")
    depot_key = keys.generate_depot_key()
    report = _build(tree, store, depot_key=depot_key)
    assert report.manifest.encryption_key_id == keys.depot_key_id(depot_key)
    _check_store_rebuilds(tree, report.manifest, store, depot_key)
    some = report.manifest.files[-1].chunks[0]
    assert store.get(some.id)[4] & codec.FLAG_AES_GCM
    assert _build(tree, store, depot_key=depot_key).new_chunks == 0


def test_symlinks_and_special_files_are_refused(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "ok").write_bytes(b"fine")
    (src / "link").symlink_to("/etc/passwd")
    with pytest.raises(SourceRejected, match="link is a symlink"):
        _build(src, LocalChunkStore(tmp_path / "s"))
    (src / "link").unlink()
    os.mkfifo(src / "pipe")
    with pytest.raises(SourceRejected, match="pipe is a special file"):
        _build(src, LocalChunkStore(tmp_path / "s"))


def test_names_that_cannot_ship_are_refused(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / unicodedata.normalize("NFC", "café")).write_bytes(b"1")
    (src / unicodedata.normalize("NFD", "café")).write_bytes(b"2")
    with pytest.raises(ContentError, match="duplicate path 'café'"):
        _build(src, LocalChunkStore(tmp_path / "s"))
    src2 = tmp_path / "src2"
    src2.mkdir()
    (src2 / ".parovoz").mkdir()
    (src2 / ".parovoz/current").write_text("x")
    with pytest.raises(UnsafePath, match="reserved"):
        _build(src2, LocalChunkStore(tmp_path / "s"))
    src3 = tmp_path / "src3"
    src3.mkdir()
    with open(os.path.join(os.fsencode(src3), b"bad-\xff-name"), "wb") as undecodable:
        undecodable.write(b"x")
    with pytest.raises(SourceRejected, match="not valid UTF-8"):
        _build(src3, LocalChunkStore(tmp_path / "s"))


def test_cli_keygen_and_build(tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key = tmp_path / "signing"
    assert content_main(["keygen", str(key)]) == 0
    out = capsys.readouterr().out
    assert f"key id: {keys.key_id(keys.load_private(key))}" in out
    assert content_main(["keygen", "--depot-key", str(tmp_path / "depot")]) == 0
    capsys.readouterr()
    args = ["build", str(tree), "--store", str(tmp_path / "store"), "--manifest", str(tmp_path / "m")]
    args += ["--signing-key", str(key), "--min", "4K", "--avg", "16K", "--max", "64K", "--build-id", "v1"]
    assert content_main([*args, "--key", str(tmp_path / "depot")]) == 0
    lines = dict(line.split(": ", 1) for line in capsys.readouterr().out.splitlines())
    m = manifest.load((tmp_path / "m").read_bytes(), [keys.load_public(f"{key}.pub")])
    assert m.build_id == "v1" and lines["build id"] == "v1"
    assert int(lines["files"]) == m.totals.files and int(lines["bytes"].split()[0]) == m.totals.bytes
    assert lines["chunks"] == f"{m.totals.chunks} ({m.totals.unique_chunks} unique)"
    assert lines["new chunks"] == str(m.totals.unique_chunks)
    assert int(lines["stored bytes"].split()[0]) == m.totals.stored_bytes


def test_cli_errors_are_one_line_not_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = [
        "build",
        str(tmp_path / "absent"),
        "--store",
        str(tmp_path / "s"),
        "--manifest",
        str(tmp_path / "m"),
    ]
    assert content_main([*args, "--signing-key", str(tmp_path / "nokey")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("parovoz content: error: cannot read signing key") and "Traceback" not in err
    keys.save_private(SIGNER, tmp_path / "key")
    assert content_main([*args, "--signing-key", str(tmp_path / "key")]) == 1
    assert "absent is not a directory" in capsys.readouterr().err
    assert content_main([*args, "--signing-key", str(tmp_path / "key"), "--min", "1M", "--avg", "16K"]) == 1
    assert "min <= avg <= max" in capsys.readouterr().err
