"""Hostile manifests and planted symlinks: refused with a clear message, nothing outside DIR touched."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from parovoz.content import keys, manifest
from parovoz.content.errors import ManifestRejected, UnsafePath
from parovoz.content.install import install
from parovoz.content.store import LocalChunkStore
from parovoz.protos.platform.content.v1.manifest_pb2 import Manifest
from tests.content_builds import generate_build
from tests.content_trees import make_build, tree
from tests.unit.content.test_manifest import HOSTILE_PATHS, INCONSISTENT, _valid


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return keys.generate()


@pytest.fixture
def world(tmp_path: Path) -> tuple[Path, Path, LocalChunkStore]:
    """(DIR with a symlink planted to outside, the outside directory with a sentinel, an empty store)."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "sentinel").write_text("untouched")
    target = tmp_path / "dst"
    target.mkdir()
    (target / "link").symlink_to(outside, target_is_directory=True)
    return target, outside, LocalChunkStore(tmp_path / "store")


def assert_untouched(target: Path, outside: Path) -> None:
    assert sorted(p.name for p in outside.iterdir()) == ["sentinel"]
    assert (outside / "sentinel").read_text() == "untouched"
    assert os.readlink(target / "link") == str(outside)


def _hostile_path(path: str) -> Callable[[Manifest], None]:
    def mutate(m: Manifest) -> None:
        m.files[0].path = path

    return mutate


CASES = {f"path {k}": (_hostile_path(v[0]), "") for k, v in HOSTILE_PATHS.items()} | INCONSISTENT


@pytest.mark.parametrize("mutate", [c[0] for c in CASES.values()], ids=CASES.keys())
def test_every_hostile_manifest_is_refused_before_anything_is_touched(
    world: tuple[Path, Path, LocalChunkStore], key: Ed25519PrivateKey, mutate: Callable[[Manifest], None]
) -> None:
    target, outside, store = world
    m = _valid()
    mutate(m)
    with pytest.raises(ManifestRejected):
        install(manifest.sign(m, key), store, target, [key.public_key()])
    assert_untouched(target, outside)
    assert not (target / ".parovoz").exists()


def test_a_wrong_signature_is_refused(
    world: tuple[Path, Path, LocalChunkStore], key: Ed25519PrivateKey
) -> None:
    target, outside, store = world
    other = keys.generate()
    with pytest.raises(ManifestRejected, match="not trusted"):
        install(manifest.sign(_valid(), other), store, target, [key.public_key()])
    signed = bytearray(manifest.sign(_valid(), key))
    signed[20] ^= 1
    with pytest.raises(ManifestRejected):
        install(bytes(signed), store, target, [key.public_key()])
    assert_untouched(target, outside)
    assert not (target / ".parovoz").exists()


def test_a_path_through_a_planted_symlink_is_refused(
    world: tuple[Path, Path, LocalChunkStore], key: Ed25519PrivateKey, tmp_path: Path
) -> None:
    target, outside, store = world
    src = tmp_path / "src"
    (src / "link").mkdir(parents=True)
    (src / "link" / "payload").write_text("would land outside")
    (src / "ok.txt").write_text("fine")
    built = make_build(src, store, key, "b1")
    with pytest.raises(UnsafePath, match="symlink"):
        install(built.signed, store, target, [key.public_key()])
    assert_untouched(target, outside)
    assert not (target / "ok.txt").exists()  # refused before any file was written


def test_a_planted_symlink_to_the_state_dir_is_refused(
    world: tuple[Path, Path, LocalChunkStore], key: Ed25519PrivateKey, tmp_path: Path
) -> None:
    target, outside, store = world
    (target / ".parovoz").symlink_to(outside, target_is_directory=True)
    src = tmp_path / "src"
    generate_build(src, small_files=3, pack_files=0)
    with pytest.raises(UnsafePath, match="symlink"):
        install(make_build(src, store, key, "b1").signed, store, target, [key.public_key()])
    assert_untouched(target, outside)


def test_deleting_extras_never_follows_a_symlink(
    world: tuple[Path, Path, LocalChunkStore], key: Ed25519PrivateKey, tmp_path: Path
) -> None:
    target, outside, store = world
    src = tmp_path / "src"
    (src / "data").mkdir(parents=True)
    (src / "data" / "sentinel").write_text("old build")
    (src / "game.exe").write_text("v1")
    (src / "replaced").write_text("a file the player swaps for a symlink")
    install(make_build(src, store, key, "b1").signed, store, target, [key.public_key()])
    # the player (or malware) swaps the build's directory and a file for symlinks to the outside
    os.rename(target / "data", tmp_path / "moved-data")
    (target / "data").symlink_to(outside, target_is_directory=True)
    (target / "replaced").unlink()
    (target / "replaced").symlink_to(outside / "sentinel")
    (src / "data" / "sentinel").unlink()
    (src / "data").rmdir()
    (src / "game.exe").write_text("v2")
    (src / "replaced").write_text("new content")
    install(make_build(src, store, key, "b2").signed, store, target, [key.public_key()])
    assert_untouched(target, outside)
    assert tree(target)["game.exe"][0] == b"v2"
    assert tree(target)["replaced"][0] == b"new content"  # the symlink was replaced, not followed
