"""Store specs (`stores.open_store`), the S3 settings from the environment, and the errors a user sees
when a spec or a setting is wrong or the `s3` extra is missing. Nothing here talks to a server."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from parovoz.content import keys
from parovoz.content.cli import main as content_main
from parovoz.content.errors import ContentError, UnsafePath
from parovoz.content.http_store import HttpChunkStore
from parovoz.content.s3_store import MISSING_EXTRA, S3ChunkStore, S3Settings
from parovoz.content.store import LocalChunkStore
from parovoz.content.stores import open_store, parse_s3_spec

CID = "ab" + "0" * 62


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("s3://games", ("games", "")),
        ("s3://games/", ("games", "")),
        ("s3://games/depots/main", ("games", "depots/main")),
        ("s3://games/depots/main/", ("games", "depots/main")),
        ("s3://my.bucket-01/x", ("my.bucket-01", "x")),
        ("s3://abc/текстуры", ("abc", "текстуры")),
    ],
)
def test_s3_specs_parse_into_bucket_and_prefix(spec: str, expected: tuple[str, str]) -> None:
    assert parse_s3_spec(spec) == expected


@pytest.mark.parametrize(
    "spec",
    [
        "s3://",
        "s3://ab",  # too short
        "s3://Games",  # upper case
        "s3://my_bucket",
        "s3://-games",
        "s3://games-",
        "s3://ga..mes",
        "s3://192.168.0.1",
        "s3://" + "a" * 64,
        "s3://games//x",
        "s3://games/a//b",
        "s3://games/a/../b",
        "s3://games/./b",
        "s3://games/a\\b",
        "s3://games/a\nb",
    ],
)
def test_bad_s3_specs_are_refused_with_the_spec_in_the_message(spec: str) -> None:
    with pytest.raises(ContentError) as refused:
        parse_s3_spec(spec)
    assert repr(spec) in str(refused.value)


def test_open_store_picks_the_store_a_spec_names(tmp_path: Path) -> None:
    built = open_store(str(tmp_path / "new"), writable=True)
    assert isinstance(built, LocalChunkStore) and built.root == tmp_path / "new"
    with pytest.raises(ContentError, match="not a chunk store"):
        open_store(str(tmp_path / "new"), writable=False)  # reading needs an existing store
    (tmp_path / "new" / "chunks").mkdir(parents=True)
    assert isinstance(open_store(str(tmp_path / "new"), writable=False), LocalChunkStore)

    origin = open_store("http://127.0.0.1:9/chunks-root", writable=False, concurrency=3)
    assert isinstance(origin, HttpChunkStore) and origin.concurrency == 3
    with pytest.raises(ContentError, match="read-only"):
        open_store("https://cdn.example/x", writable=True)
    for spec in ("gs://bucket/x", "ftp://host/x", "S3://games"):
        with pytest.raises(ContentError, match="not a chunk store"):
            open_store(spec, writable=False)


def test_an_s3_spec_opens_an_s3_store_with_the_sharded_key_layout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAROVOZ_CONTENT_S3_ENDPOINT", "https://storage.yandexcloud.net")
    store = open_store("s3://games/depots/main/", writable=True, concurrency=5)
    bare = open_store("s3://games", writable=False)
    assert isinstance(store, S3ChunkStore) and isinstance(bare, S3ChunkStore)
    assert (store.bucket, store.prefix, store.url) == ("games", "depots/main", "s3://games/depots/main")
    assert store.concurrency == 5
    assert store.settings.endpoint_url == "https://storage.yandexcloud.net"
    assert store.key(CID) == f"depots/main/chunks/ab/{CID}"
    assert bare.key(CID) == f"chunks/ab/{CID}"
    with pytest.raises(UnsafePath):
        store.key("../../etc/passwd")
    store.close()
    bare.close()


def test_s3_settings_come_from_the_environment() -> None:
    assert S3Settings.from_env({}) == S3Settings(None, "ru-central1", "auto")
    env = {
        "PAROVOZ_CONTENT_S3_ENDPOINT": "https://hb.ru-msk.vkcloud-storage.ru",
        "PAROVOZ_CONTENT_S3_REGION": "ru-msk",
        "PAROVOZ_CONTENT_S3_ADDRESSING": "Path",
    }
    assert S3Settings.from_env(env) == S3Settings("https://hb.ru-msk.vkcloud-storage.ru", "ru-msk", "path")
    with pytest.raises(ContentError, match="PAROVOZ_CONTENT_S3_ADDRESSING"):
        S3Settings.from_env({"PAROVOZ_CONTENT_S3_ADDRESSING": "dns"})
    with pytest.raises(ContentError, match="PAROVOZ_CONTENT_S3_ENDPOINT"):
        S3Settings.from_env({"PAROVOZ_CONTENT_S3_ENDPOINT": "storage.yandexcloud.net"})


def test_without_the_s3_extra_an_s3_store_fails_with_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)  # `import boto3` now raises ImportError
    with pytest.raises(ContentError) as refused:
        open_store("s3://games/x", writable=True)
    assert str(refused.value) == MISSING_EXTRA and "pip install 'parovoz[s3]'" in MISSING_EXTRA

    (tmp_path / "src").mkdir()
    code = content_main(
        ["build", str(tmp_path / "src"), "--store", "s3://games/x", "--manifest", str(tmp_path / "m"),
         "--signing-key", str(_signing_key(tmp_path))]
    )  # fmt: skip
    assert code == 1 and capsys.readouterr().err == f"parovoz content: error: {MISSING_EXTRA}\n"


def test_the_cli_refuses_bad_store_specs_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    signing = _signing_key(tmp_path)
    (tmp_path / "src").mkdir()
    for spec in ("s3://Bad_Bucket", "https://cdn.example/store"):
        code = content_main(
            ["build", str(tmp_path / "src"), "--store", spec, "--manifest", str(tmp_path / "m"),
             "--signing-key", str(signing)]
        )  # fmt: skip
        err = capsys.readouterr().err
        assert code == 1 and err.startswith("parovoz content: error: ") and err.count("\n") == 1, err
    assert content_main(["serve", "s3://games/x"]) == 1
    assert "local store directory" in capsys.readouterr().err


def _signing_key(tmp_path: Path) -> Path:
    path = tmp_path / "signing.pem"
    keys.save_private(keys.generate(), path)
    return path
