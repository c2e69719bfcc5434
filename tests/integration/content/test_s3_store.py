"""`S3ChunkStore` against moto's S3 server on loopback (tests/content_s3.py): round trips, the object
layout and headers, idempotent puts, absent chunks, oversized objects, retries of 5xx and of bodies
cut short, PUT bodies altered on the way, and the errors of a wrong bucket or endpoint."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from parovoz.content import codec, keys
from parovoz.content.build import build
from parovoz.content.errors import ChunkFetchFailed, ChunkNotFound, ContentError
from parovoz.content.http_store import DEFAULT_MAX_BLOB_SIZE
from parovoz.content.s3_store import CACHE_CONTROL, CONTENT_TYPE, S3ChunkStore, S3Settings
from parovoz.content.store import ChunkStore
from tests.content_builds import SMALL_PARAMS, KiB, generate_build
from tests.content_s3 import CREDENTIALS, MotoS3
from tests.infra import free_port


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def store(moto: MotoS3) -> Iterator[S3ChunkStore]:
    with moto.new_store() as s3:
        yield s3


def blob_of(data: bytes, level: int = 3) -> tuple[str, bytes]:
    cid = hashlib.sha256(data).hexdigest()
    return cid, codec.encode(data, level, None, cid=cid)


def puts(moto: MotoS3) -> list[str]:
    return [path for method, path in moto.faults.requests if method == "PUT" and "/chunks/" in path]


def test_round_trip_layout_and_cache_headers(moto: MotoS3, store: S3ChunkStore) -> None:
    assert isinstance(store, ChunkStore)
    chunks = dict(blob_of(os.urandom(n) + b"text " * n) for n in (0, 1, 1000, 200_000))
    assert store.missing(chunks) == set(chunks)
    for cid, blob in chunks.items():
        assert not store.has(cid)
        store.put(cid, blob)
    assert store.missing([*chunks, "f" * 64]) == {"f" * 64}
    for cid, blob in chunks.items():
        assert store.has(cid)
        assert store.get(cid) == blob
        assert store.get(cid, expected_size=len(blob)) == blob
        assert store.size(cid) == len(blob)
        head = moto.client.head_object(Bucket=store.bucket, Key=f"builds/chunks/{cid[:2]}/{cid}")
        assert head["CacheControl"] == CACHE_CONTROL == "public, max-age=31536000, immutable"
        assert head["ContentType"] == CONTENT_TYPE
        assert head["ETag"].strip('"') == hashlib.md5(blob).hexdigest()
    listed = moto.client.list_objects_v2(Bucket=store.bucket)["Contents"]
    assert sorted(o["Key"] for o in listed) == sorted(f"builds/chunks/{c[:2]}/{c}" for c in chunks)


def test_a_second_put_of_an_id_sends_nothing_and_keeps_the_first_blob(
    moto: MotoS3, store: S3ChunkStore
) -> None:
    data = b"a chunk stored twice " * 500
    cid, first = blob_of(data)
    other_level = codec.encode(data, 3, keys.generate_depot_key(), cid=cid)  # another blob, same id
    assert first != other_level
    store.put(cid, first)
    sent = len(puts(moto))
    store.put(cid, other_level)
    fresh = S3ChunkStore(store.bucket, store.prefix, settings=moto.settings)  # no size remembered
    fresh.put(cid, other_level)
    assert len(puts(moto)) == sent
    assert fresh.get(cid) == first and fresh.size(cid) == len(first)
    fresh.close()


def test_an_absent_chunk_is_chunk_not_found(store: S3ChunkStore) -> None:
    absent = "0" * 64
    assert not store.has(absent)
    with pytest.raises(ChunkNotFound, match=absent):
        store.get(absent)
    with pytest.raises(ChunkNotFound, match=absent):
        store.size(absent)


def test_an_object_over_the_size_bound_is_refused(moto: MotoS3, store: S3ChunkStore) -> None:
    huge = "1" * 64
    moto.client.put_object(Bucket=store.bucket, Key=store.key(huge), Body=b"\0" * (DEFAULT_MAX_BLOB_SIZE + 1))
    with pytest.raises(ChunkFetchFailed, match=f"{DEFAULT_MAX_BLOB_SIZE + 1} bytes, more than"):
        store.get(huge)
    cid, blob = blob_of(b"x" * 5000)
    store.put(cid, blob)
    with pytest.raises(ChunkFetchFailed, match="more than 10"):
        store.get(cid, expected_size=10)  # the manifest's stored size bounds it too
    with pytest.raises(ChunkFetchFailed, match="expected"):
        store.get(cid, expected_size=len(blob) + 1)


def test_5xx_and_a_body_cut_short_are_retried(moto: MotoS3, store: S3ChunkStore) -> None:
    cid, blob = blob_of(os.urandom(300_000))
    moto.faults.fail_next = 1  # botocore backs off up to 2^n s between tries: few, to stay quick
    store.put(cid, blob)  # its HEAD gets the 503
    moto.faults.fail_next = 1
    assert store.get(cid) == blob
    before = len(moto.faults.requests)
    moto.faults.cut_next_get = 2
    assert store.get(cid) == blob
    assert len(moto.faults.requests) - before == 3  # two cut short, then a whole one

    moto.faults.fail_next = 10  # more than retries=2
    with pytest.raises(ChunkFetchFailed, match=r"SlowDown|503"):
        store.get(cid)
    moto.faults.fail_next = 0
    moto.faults.cut_next_get = 10
    with pytest.raises(ChunkFetchFailed, match=cid[:2]):
        store.get(cid)
    moto.faults.cut_next_get = 0


def test_a_put_body_altered_on_the_way_is_sent_again_or_refused(moto: MotoS3, store: S3ChunkStore) -> None:
    cid, blob = blob_of(os.urandom(100_000))
    moto.faults.corrupt_next_put = 1
    store.put(cid, blob)
    assert store.get(cid) == blob and len(puts(moto)) >= 2

    other, other_blob = blob_of(os.urandom(100_000))
    moto.faults.corrupt_next_put = 5
    with pytest.raises(ContentError, match="ETag is not the MD5"):
        store.put(other, other_blob)
    moto.faults.corrupt_next_put = 0
    assert not store.has(other)  # the damaged object was removed, not left to pass for the chunk


def test_concurrent_puts_and_gets_from_many_threads(store: S3ChunkStore) -> None:
    chunks = dict(blob_of(os.urandom(2000 + n)) for n in range(40))

    def round_trip(cid: str) -> bool:
        store.put(cid, chunks[cid])
        return store.get(cid) == chunks[cid]

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(round_trip, [*chunks, *chunks]))  # each id put twice, concurrently
    assert store.missing(chunks) == set()


def test_sizes_learned_by_missing_cost_no_second_request(moto: MotoS3, store: S3ChunkStore) -> None:
    chunks = dict(blob_of(os.urandom(1000 + n)) for n in range(5))
    for cid, blob in chunks.items():
        store.put(cid, blob)
    reader = S3ChunkStore(store.bucket, store.prefix, settings=moto.settings)
    assert reader.missing(chunks) == set()
    before = len(moto.faults.requests)
    assert {cid: reader.size(cid) for cid in chunks} == {cid: len(b) for cid, b in chunks.items()}
    assert len(moto.faults.requests) == before
    reader.close()


def test_a_wrong_bucket_endpoint_or_credentials_fail_in_one_line(
    moto: MotoS3, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cid, blob = blob_of(b"anything")
    with S3ChunkStore("no-such-bucket", "x", settings=moto.settings) as nowhere:
        with pytest.raises(ChunkFetchFailed, match="bucket 'no-such-bucket' does not exist"):
            nowhere.get(cid)
        with pytest.raises(ContentError, match="does not exist"):
            nowhere.put(cid, blob)

    closed = S3Settings(endpoint_url=f"http://127.0.0.1:{free_port()}")
    with S3ChunkStore("games", settings=closed, retries=0) as unreachable:
        with pytest.raises(ChunkFetchFailed, match="Could not connect"):
            unreachable.get(cid)

    for name in CREDENTIALS:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.path.join(tmp_path, "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", os.path.join(tmp_path, "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with S3ChunkStore("games", settings=moto.settings) as anonymous:
        with pytest.raises(ChunkFetchFailed, match="no S3 credentials: set AWS_ACCESS_KEY_ID"):
            anonymous.get(cid)


def test_a_rebuild_of_unchanged_content_asks_the_store_in_batches(
    moto: MotoS3, store: S3ChunkStore, tmp_path: Path
) -> None:
    generate_build(tmp_path / "src", small_files=20, pack_files=2, pack_size=512 * KiB)
    signing = keys.generate()
    first = build(tmp_path / "src", store, params=SMALL_PARAMS, signing_key=signing)
    asked: list[int] = []

    class Counting(S3ChunkStore):
        def missing(self, cids: Iterable[str]) -> set[str]:
            ids = set(cids)
            asked.append(len(ids))
            return super().missing(ids)

    with Counting(store.bucket, store.prefix, settings=moto.settings) as counting:
        again = build(tmp_path / "src", counting, params=SMALL_PARAMS, signing_key=signing)
    assert again.new_chunks == 0 and first.unique_chunks > 60
    assert sum(asked) == first.unique_chunks
    # batches of up to 32, not one round trip per chunk (a remote store's latency each)
    assert len(asked) <= first.unique_chunks // 32 + 2, asked
