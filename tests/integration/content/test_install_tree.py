"""The commit moves the staged tree in: new directories whole, existing ones merged; kill -9 in the middle.

The kill tests run the install in a child process that sends itself SIGKILL at the n-th rename of
the commit (a real kill -9 at a chosen point), then resume in this process from the same store."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from parovoz.content import keys
from parovoz.content.build import BuildReport
from parovoz.content.install import install
from parovoz.content.state import Journal
from parovoz.content.store import LocalChunkStore
from parovoz.content.targetfs import Target
from tests.content_builds import generate_build
from tests.content_trees import CountingStore, make_build, tree

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return keys.generate()


@pytest.fixture(scope="module")
def base(
    tmp_path_factory: pytest.TempPathFactory, key: Ed25519PrivateKey
) -> tuple[Path, LocalChunkStore, BuildReport]:
    root = tmp_path_factory.mktemp("tree")
    generate_build(root / "src", small_files=80, pack_files=2, pack_size=256 * 1024)
    store = LocalChunkStore(root / "store")
    return root / "src", store, make_build(root / "src", store, key, "b1")


def _counting_replaces(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    real, paths = Target.replace, []

    def counted(
        self: Target, src_dir_fd: int, src_name: str, path: str, parent_fd: int | None = None
    ) -> bool:
        paths.append(path)
        return real(self, src_dir_fd, src_name, path, parent_fd)

    monkeypatch.setattr(Target, "replace", counted)
    return paths


def test_a_fresh_install_renames_each_top_level_directory_once(
    tmp_path: Path,
    base: tuple[Path, LocalChunkStore, BuildReport],
    key: Ed25519PrivateKey,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    src, store, built = base
    renames = _counting_replaces(monkeypatch)
    install(built.signed, store, tmp_path / "dst", [key.public_key()])
    assert tree(tmp_path / "dst") == tree(src)
    assert sorted(renames) == sorted(p.name for p in src.iterdir())  # one rename per top-level entry
    assert sorted((tmp_path / "dst" / ".parovoz" / "staging").iterdir()) == []


def test_foreign_files_in_a_directory_the_build_uses_are_kept(
    tmp_path: Path, base: tuple[Path, LocalChunkStore, BuildReport], key: Ed25519PrivateKey
) -> None:
    src, store, built = base
    dst = tmp_path / "dst"
    (dst / "packs").mkdir(parents=True)
    (dst / "packs" / "mod.pak").write_bytes(b"a player's mod")
    (dst / "notes.txt").write_bytes(b"a player's notes")
    install(built.signed, store, dst, [key.public_key()])
    assert tree(dst) == tree(src) | {
        "packs/mod.pak": (b"a player's mod", 0o644),
        "notes.txt": (b"a player's notes", 0o644),
    }


def _install_killed_at_rename(
    tmp_path: Path, signed: bytes, store: Path, dst: Path, key: Ed25519PrivateKey, n: int
) -> None:
    """Run the install in a child that SIGKILLs itself at the commit's n-th rename."""
    (tmp_path / "m").write_bytes(signed)
    (tmp_path / "k.pub").write_bytes(keys.public_pem(key))
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        from pathlib import Path
        from parovoz.content import keys
        from parovoz.content.install import install
        from parovoz.content.store import LocalChunkStore
        from parovoz.content.targetfs import Target
        real, calls = Target.replace, []
        def replace(self, *args):
            calls.append(args)
            if len(calls) == {n}:
                os.kill(os.getpid(), signal.SIGKILL)
            return real(self, *args)
        Target.replace = replace
        install(Path({str(tmp_path / "m")!r}).read_bytes(), LocalChunkStore({str(store)!r}), {str(dst)!r},
                [keys.load_public({str(tmp_path / "k.pub")!r})])
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    state = dst / ".parovoz"
    fd = os.open(state, os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert Journal.read(fd)[-1] == {"t": "commit"}  # killed in the commit, after the write phase
    finally:
        os.close(fd)


def test_a_kill_9_during_a_fresh_install_s_tree_renames_resumes_to_the_full_tree(
    tmp_path: Path, base: tuple[Path, LocalChunkStore, BuildReport], key: Ed25519PrivateKey
) -> None:
    src, store, built = base
    dst = tmp_path / "dst"
    _install_killed_at_rename(tmp_path, built.signed, store.root, dst, key, n=3)
    moved = {p.name for p in dst.iterdir()} - {".parovoz"}
    assert 0 < len(moved) < len(list(src.iterdir()))  # stopped half way through the top-level renames
    counting = CountingStore(store)
    install(built.signed, counting, dst, [key.public_key()])
    assert tree(dst) == tree(src)
    assert counting.total == 0  # everything was staged before the commit began
    assert (dst / ".parovoz" / "current").read_text().strip() == "b1"


def test_a_kill_9_during_an_update_s_merges_resumes_to_the_full_tree(
    tmp_path: Path, base: tuple[Path, LocalChunkStore, BuildReport], key: Ed25519PrivateKey
) -> None:
    src0, store, built = base
    src, dst = tmp_path / "src", tmp_path / "dst"
    shutil.copytree(src0, src)
    install(built.signed, store, dst, [key.public_key()])
    for victim in sorted(src.rglob("*.dat"))[:30]:
        victim.write_bytes(b"changed " + victim.read_bytes())  # rewritten in directories that exist
    (src / "dlc" / "new").mkdir(parents=True)
    (src / "dlc" / "new" / "content.bin").write_bytes(b"new directory")
    second = make_build(src, store, key, "b2")
    _install_killed_at_rename(tmp_path, second.signed, store.root, dst, key, n=10)
    counting = CountingStore(store)
    report = install(second.signed, counting, dst, [key.public_key()])
    assert tree(dst) == tree(src)
    assert counting.total == 0
    assert report.build_id == "b2" and (dst / ".parovoz" / "current").read_text().strip() == "b2"


def test_a_write_phase_staged_by_an_older_layout_is_not_resumed(
    tmp_path: Path, base: tuple[Path, LocalChunkStore, BuildReport], key: Ed25519PrivateKey
) -> None:
    src, store, built = base
    dst = tmp_path / "dst"
    with pytest.raises(ConnectionError):
        install(built.signed, CountingStore(store, fail_after=20), dst, [key.public_key()])
    journal = dst / ".parovoz" / "journal"
    lines = journal.read_text().splitlines()
    begin = json.loads(lines[0])
    assert begin["t"] == "begin" and begin.pop("layout") == 2
    journal.write_text("\n".join([json.dumps(begin), *lines[1:]]) + "\n")  # as an older installer wrote it
    counting = CountingStore(store)
    report = install(built.signed, counting, dst, [key.public_key()])
    assert not report.resumed
    assert counting.total == built.unique_chunks  # its chunk records were not trusted
    assert tree(dst) == tree(src)
