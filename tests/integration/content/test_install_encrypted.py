"""An encrypted depot (chunks under AES-256-GCM, e.g. pre-loaded before release): it installs with
its key, and without the key or with another one it is refused before anything is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from parovoz.content import keys
from parovoz.content.build import BuildMeta, build
from parovoz.content.errors import ContentError
from parovoz.content.install import install
from parovoz.content.store import LocalChunkStore
from tests.content_builds import SMALL_PARAMS, generate_build
from tests.content_trees import tree


def test_an_encrypted_build_installs_only_with_its_depot_key(tmp_path: Path) -> None:
    signing = keys.generate()
    depot_key = keys.generate_depot_key()
    generate_build(tmp_path / "src")
    store = LocalChunkStore(tmp_path / "store")
    built = build(
        tmp_path / "src",
        store,
        params=SMALL_PARAMS,
        signing_key=signing,
        depot_key=depot_key,
        meta=BuildMeta(build_id="enc1", created_at=1),
    )

    # Every stored blob is encrypted (flags byte after the 4-byte magic, bit 1: AES-256-GCM).
    blobs = [p.read_bytes() for p in (tmp_path / "store" / "chunks").rglob("*") if p.is_file()]
    assert blobs and all(blob[:4] == b"PZC1" and blob[4] & 0b10 for blob in blobs)

    trusted = [signing.public_key()]
    for wrong in (None, keys.generate_depot_key()):
        target = tmp_path / f"refused-{'none' if wrong is None else 'other'}"
        with pytest.raises(ContentError):
            install(built.signed, store, target, trusted, depot_key=wrong)
        assert not target.exists() or not any(p for p in target.rglob("*") if p.is_file())

    installed = tmp_path / "installed"
    report = install(built.signed, store, installed, trusted, depot_key=depot_key)
    assert report.bytes_fetched > 0
    assert tree(installed) == tree(tmp_path / "src")
