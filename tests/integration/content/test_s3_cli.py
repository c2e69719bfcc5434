"""`parovoz content build | install | verify --repair` with an `s3://` store on moto's S3 server:
the installed tree equals the source, a re-run build uploads nothing, an encrypted depot round-trips
with its key only. The install runs as a real subprocess, configured by the environment alone."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from parovoz.content.cli import main as content_main
from tests.content_builds import KiB, generate_build
from tests.content_s3 import MotoS3
from tests.content_trees import tree

SMALL = ["--min", "4K", "--avg", "16K", "--max", "64K"]


@pytest.fixture(autouse=True)
def s3_env(moto: MotoS3, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in moto.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def keys_dir(tmp_path: Path) -> Path:
    assert content_main(["keygen", str(tmp_path / "signing.pem")]) == 0
    assert content_main(["keygen", "--depot-key", str(tmp_path / "depot.key")]) == 0
    return tmp_path


@pytest.fixture
def src(tmp_path: Path) -> Path:
    generate_build(tmp_path / "src", seed=3, small_files=30, pack_files=2, pack_size=256 * KiB, depth=4)
    return tmp_path / "src"


def build(src: Path, store: str, manifest: Path, keys_dir: Path, *extra: str) -> None:
    args = ["build", str(src), "--store", store, "--manifest", str(manifest)]
    args += ["--signing-key", str(keys_dir / "signing.pem"), "--created-at", "1700000000", *SMALL, *extra]
    assert content_main(args) == 0


def report(out: str) -> dict[str, int]:
    """A command's report lines as numbers: "new chunks: 12" -> {"new chunks": 12}, and "(N unique)"."""
    numbers = {m[1]: int(m[2]) for m in re.finditer(r"^([a-z ]+): (\d+)", out, re.MULTILINE)}
    unique = re.search(r"\((\d+) unique\)", out)
    fetched = re.search(r"^fetched: .*\((\d+) bytes, (\d+) chunks", out, re.MULTILINE)
    if unique:
        numbers["unique chunks"] = int(unique[1])
    if fetched:
        numbers["fetched bytes"], numbers["fetched chunks"] = int(fetched[1]), int(fetched[2])
    return numbers


def chunk_puts(moto: MotoS3) -> int:
    return sum(1 for method, path in moto.faults.requests if method == "PUT" and "/chunks/" in path)


def objects(moto: MotoS3, bucket: str) -> dict[str, bytes]:
    listed = moto.client.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {o["Key"]: moto.client.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listed}


def test_build_install_and_repair_through_an_s3_store(
    moto: MotoS3, src: Path, keys_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bucket = moto.new_bucket()
    store = f"s3://{bucket}/depots/main"
    manifest = tmp_path / "build.manifest"
    build(src, store, manifest, keys_dir)
    first = report(capsys.readouterr().out)
    stored = objects(moto, bucket)
    assert len(stored) == first["new chunks"] == first["unique chunks"] > 10
    assert all(re.fullmatch(r"depots/main/chunks/([0-9a-f]{2})/\1[0-9a-f]{62}", key) for key in stored)
    assert sum(map(len, stored.values())) == first["new stored bytes"] == first["stored bytes"]

    sent = chunk_puts(moto)
    build(src, store, tmp_path / "again.manifest", keys_dir)  # a re-run: everything is there
    again = report(capsys.readouterr().out)
    assert again["new chunks"] == 0 and again["new bytes"] == 0
    assert chunk_puts(moto) == sent
    assert (tmp_path / "again.manifest").read_bytes() == manifest.read_bytes()

    dst = tmp_path / "installed"
    install = [sys.executable, "-m", "parovoz", "content", "install", str(manifest), "--from", store]
    install += ["--to", str(dst), "--trust", str(keys_dir / "signing.pem.pub")]
    done = subprocess.run(install, capture_output=True, text=True, timeout=120, env=_subprocess_env(moto))
    assert done.returncode == 0, done.stderr
    fetched = report(done.stdout)
    assert (fetched["fetched chunks"], fetched["fetched bytes"]) == (len(stored), first["stored bytes"])
    assert tree(dst) == tree(src)

    pak = dst / "packs" / "pak01.pak"
    damaged = bytearray(pak.read_bytes())
    damaged[100_000] ^= 0xFF
    pak.write_bytes(bytes(damaged))
    next(p for p in sorted(dst.rglob("*.dat")) if p.stat().st_size > 0).unlink()
    verify = ["verify", str(manifest), "--dir", str(dst), "--trust", str(keys_dir / "signing.pem.pub")]
    assert content_main([*verify, "--repair", "--from", store]) == 0
    assert "clean after repair" in capsys.readouterr().out
    assert tree(dst) == tree(src)


def test_an_encrypted_depot_in_s3_installs_only_with_its_key(
    moto: MotoS3, src: Path, keys_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bucket = moto.new_bucket()
    store = f"s3://{bucket}/prerelease"
    manifest = tmp_path / "enc.manifest"
    build(src, store, manifest, keys_dir, "--key", str(keys_dir / "depot.key"))
    blobs = objects(moto, bucket).values()
    assert blobs and all(blob[:4] == b"PZC1" and blob[4] & 0b10 for blob in blobs)  # AES-GCM flag

    install = ["install", str(manifest), "--from", store, "--trust", str(keys_dir / "signing.pem.pub")]
    capsys.readouterr()
    assert content_main([*install, "--to", str(tmp_path / "no-key")]) == 1
    assert "parovoz content: error: " in capsys.readouterr().err  # one line, after the progress line
    assert content_main([*install, "--to", str(tmp_path / "dst"), "--key", str(keys_dir / "depot.key")]) == 0
    assert tree(tmp_path / "dst") == tree(src)


def _subprocess_env(moto: MotoS3) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PAROVOZ_CONTENT_S3_"))}
    return {**env, **moto.env(), "AWS_EC2_METADATA_DISABLED": "true"}
