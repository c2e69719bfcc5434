"""Verify finds changed, missing and extra files; repair fetches only the bad chunks."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from parovoz.content import keys
from parovoz.content.build import BuildReport
from parovoz.content.install import install
from parovoz.content.store import LocalChunkStore
from parovoz.content.verify import repair, verify
from tests.content_builds import generate_build
from tests.content_trees import CountingStore, make_build, tree


@pytest.fixture(scope="module")
def built(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, LocalChunkStore, BuildReport, Ed25519PrivateKey]:
    root = tmp_path_factory.mktemp("verify")
    key = keys.generate()
    generate_build(root / "src")
    store = LocalChunkStore(root / "store")
    return root / "src", store, make_build(root / "src", store, key, "b1"), key


def test_a_fresh_install_verifies_clean(
    tmp_path: Path, built: tuple[Path, LocalChunkStore, BuildReport, Ed25519PrivateKey]
) -> None:
    _, store, report, key = built
    install(report.signed, store, tmp_path / "dst", [key.public_key()])
    result = verify(report.manifest, tmp_path / "dst")
    assert result.clean and result.files_checked == report.files
    assert result.bytes_checked == report.bytes


def test_verify_finds_every_difference_and_repair_fetches_only_bad_chunks(
    tmp_path: Path, built: tuple[Path, LocalChunkStore, BuildReport, Ed25519PrivateKey]
) -> None:
    src, store, report, key = built
    dst = tmp_path / "dst"
    install(report.signed, store, dst, [key.public_key()])
    pak = dst / "packs" / "pak01.pak"
    data = bytearray(pak.read_bytes())
    data[200_000] ^= 0xFF  # one flipped byte: one bad chunk
    data[700_000] ^= 0x01  # another, far away
    pak.write_bytes(bytes(data))
    shortened = dst / "packs" / "pak02.pak"
    shortened.write_bytes(shortened.read_bytes()[:-10])  # truncated: its last chunk is bad
    missing = next(p for p in sorted(dst.rglob("*.dat")) if p.stat().st_size > 0)
    missing.unlink()
    (dst / "deep-extra").mkdir()
    (dst / "deep-extra" / "stray.txt").write_text("not in the build")
    (dst / "packs" / "pak00.pak").chmod(0o600)
    result = verify(report.manifest, dst)
    changed = {c.path: c for c in result.changed}
    assert set(changed) == {"packs/pak01.pak", "packs/pak02.pak", "packs/pak00.pak"}
    assert len(changed["packs/pak01.pak"].bad_chunks) == 2
    assert changed["packs/pak02.pak"].size_differs and len(changed["packs/pak02.pak"].bad_chunks) == 1
    assert changed["packs/pak00.pak"].mode_differs and not changed["packs/pak00.pak"].bad_chunks
    assert result.missing == [missing.relative_to(dst).as_posix()]
    assert result.extra == ["deep-extra/stray.txt"]
    counting = CountingStore(store)
    fixed = repair(report.manifest, dst, counting, report=result)
    missing_chunks = next(f for f in report.manifest.files if f.path == result.missing[0]).chunks
    assert counting.total == 3 + len(missing_chunks)  # the bad chunks and the missing file's, nothing else
    assert fixed.extras_removed == 1
    assert verify(report.manifest, dst).clean
    assert tree(dst) == tree(src)  # contents and modes


def test_a_symlink_in_place_of_a_directory_is_extra_and_repair_replaces_it(
    tmp_path: Path, built: tuple[Path, LocalChunkStore, BuildReport, Ed25519PrivateKey]
) -> None:
    _, store, report, key = built
    dst, outside = tmp_path / "dst", tmp_path / "outside"
    install(report.signed, store, dst, [key.public_key()])
    outside.mkdir()
    (outside / "sentinel").write_text("untouched")
    shutil.rmtree(dst / "packs")
    (dst / "packs").symlink_to(outside, target_is_directory=True)
    result = verify(report.manifest, dst)
    assert "packs" in result.extra
    assert {p for p in result.missing if p.startswith("packs/")} == {
        f.path for f in report.manifest.files if f.path.startswith("packs/")
    }
    repair(report.manifest, dst, store, report=result)
    assert verify(report.manifest, dst).clean
    assert [p.name for p in outside.iterdir()] == ["sentinel"]
