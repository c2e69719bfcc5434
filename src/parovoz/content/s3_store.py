"""A chunk store in an S3-compatible bucket (AWS S3, Yandex Object Storage, VK Cloud, Selectel, MinIO).

Objects are `<prefix>/chunks/<id[:2]>/<id>`, the layout of `LocalChunkStore`, so a store moves
between a directory and a bucket with any sync tool. Each is written with
`Cache-Control: public, max-age=31536000, immutable` (a chunk never changes under its id) and
`Content-Type: application/octet-stream`, so a CDN can front the bucket.

The client is botocore's (installed with the `s3` extra): SigV4, path-style or virtual-host
addressing, a keep-alive pool, and retries with back-off of 5xx, throttling and connection errors
("standard" mode). A body broken off mid-read is retried here (botocore retries only up to the
response headers). Endpoint, region and addressing come from `PAROVOZ_CONTENT_S3_*` (`S3Settings`),
credentials from botocore's usual chain (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, `AWS_PROFILE`).

A put is skipped when the object is there (HEAD: the first blob stored under an id stays, as in the
local store); S3 PUTs are atomic, so no temp objects. Each put sends `Content-MD5` (the server
refuses a body damaged on the way) and compares the ETag it answers with the MD5 (servers that skip
that check). A get refuses a body larger than the caller expects (or than `max_blob_size`) before
reading it. Sizes learned by HEAD are remembered (blobs are immutable), so the build's
`missing()`-then-`size()` costs one round trip per chunk, not two.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from parovoz.content.errors import ChunkFetchFailed, ChunkNotFound, ContentError
from parovoz.content.http_store import DEFAULT_MAX_BLOB_SIZE
from parovoz.content.store import check_chunk_id

MISSING_EXTRA = "s3:// chunk stores need boto3: pip install 'parovoz[s3]'"
CACHE_CONTROL = "public, max-age=31536000, immutable"
CONTENT_TYPE = "application/octet-stream"
ADDRESSING_STYLES = ("auto", "path", "virtual")
_MD5_ETAG = re.compile(r"[0-9a-f]{32}")
_SIZE_CACHE_ENTRIES = 65536  # ~10 MB at most; more than the uploader's batches ever need
_PUT_ATTEMPTS = 2  # a PUT whose ETag is not our MD5 is sent once more, then refused


@dataclass(frozen=True)
class S3Settings:
    """Where the bucket is served. `endpoint_url` None: botocore's choice (`AWS_ENDPOINT_URL_S3`, the
    profile's `endpoint_url`, else AWS for `region`)."""

    endpoint_url: str | None = None
    region: str = "ru-central1"
    addressing: str = "auto"  # botocore's: virtual-host when the bucket name allows, path-style else

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> S3Settings:
        env = os.environ if environ is None else environ
        endpoint = env.get("PAROVOZ_CONTENT_S3_ENDPOINT", "").strip() or None
        if endpoint is not None and not re.match(r"https?://[^/]", endpoint):
            raise ContentError(f"PAROVOZ_CONTENT_S3_ENDPOINT={endpoint!r}: expected an http(s) URL")
        addressing = env.get("PAROVOZ_CONTENT_S3_ADDRESSING", "").strip().lower() or "auto"
        if addressing not in ADDRESSING_STYLES:
            raise ContentError(
                f"PAROVOZ_CONTENT_S3_ADDRESSING={addressing!r}: "
                f"expected one of {', '.join(ADDRESSING_STYLES)}"
            )
        region = env.get("PAROVOZ_CONTENT_S3_REGION", "").strip() or cls.region
        return cls(endpoint, region, addressing)


class S3ChunkStore:
    """`ChunkStore` over an S3 bucket; thread-safe (botocore clients are)."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        settings: S3Settings | None = None,
        concurrency: int = 16,
        retries: int = 4,
        timeout: float = 30.0,
        max_blob_size: int = DEFAULT_MAX_BLOB_SIZE,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.url = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        self.settings = settings or S3Settings.from_env()
        self.concurrency = max(concurrency, 1)
        self.retries = retries
        self.max_blob_size = max_blob_size
        self._client = _make_client(self.settings, self.concurrency, retries, timeout)
        self._sizes: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    def key(self, cid: str) -> str:
        """The object key of chunk `cid` (validated first: it becomes part of a URL)."""
        check_chunk_id(cid)
        return f"{self.prefix}/chunks/{cid[:2]}/{cid}" if self.prefix else f"chunks/{cid[:2]}/{cid}"

    # -- ChunkStore ------------------------------------------------------------------------------

    def has(self, cid: str) -> bool:
        return self._head(cid) is not None

    def size(self, cid: str) -> int:
        size = self._head(cid)
        if size is None:
            raise ChunkNotFound(f"chunk {cid} is not in {self.url}")
        return size

    def missing(self, cids: Iterable[str]) -> set[str]:
        """Concurrent HEADs, `concurrency` at a time (measured against ListObjectsV2 per shard:
        bench/bench_s3_store.py)."""
        ids = sorted({check_chunk_id(cid) for cid in cids})
        sizes = self._executor().map(self._head, ids) if len(ids) > 1 else map(self._head, ids)
        return {cid for cid, size in zip(ids, sizes, strict=True) if size is None}

    def put(self, cid: str, blob: bytes) -> None:
        if self._head(cid) is not None:
            return
        key = self.key(cid)
        md5 = hashlib.md5(blob, usedforsecurity=False)
        for _ in range(_PUT_ATTEMPTS):
            answer = self._call(
                f"PUT {key}",
                ContentError,
                "put_object",
                Key=key,
                Body=blob,
                ContentMD5=base64.b64encode(md5.digest()).decode("ascii"),
                CacheControl=CACHE_CONTROL,
                ContentType=CONTENT_TYPE,
            )
            if _etag_matches(answer, md5.hexdigest()):
                self._remember(cid, len(blob))
                return
        # The server keeps something other than what we sent: never leave it to pass for the chunk.
        self._call(f"DELETE {key}", ContentError, "delete_object", Key=key)
        raise ContentError(
            f"PUT {key} to {self.url}: the stored object's ETag is not the MD5 of the blob sent "
            f"({_PUT_ATTEMPTS} attempts): the body was altered on the way"
        )

    def get(self, cid: str, expected_size: int | None = None) -> bytes:
        """The blob of `cid`; `expected_size` (the manifest's stored size) bounds what is accepted."""
        from botocore.exceptions import BotoCoreError

        key = self.key(cid)
        limit = self.max_blob_size if expected_size is None else expected_size
        failures = 0
        while True:
            answer = self._call(f"GET {key}", ChunkFetchFailed, "get_object", Key=key, cid=cid)
            try:
                blob = self._read_body(answer, cid, limit)
            except BotoCoreError as exc:  # the body broke off: connection reset, timeout, short read
                failures += 1
                if failures > self.retries:
                    raise ChunkFetchFailed(f"GET {key} from {self.url}: {exc}") from None
                continue
            if expected_size is not None and len(blob) != expected_size:
                raise ChunkFetchFailed(
                    f"chunk {cid} from {self.url} is {len(blob)} bytes, expected {expected_size}"
                )
            return blob

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()

    def __enter__(self) -> S3ChunkStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests ----------------------------------------------------------------------------------

    def _head(self, cid: str) -> int | None:
        """The blob's size, or None when the bucket has no such object."""
        with self._lock:
            if cid in self._sizes:
                return self._sizes[cid]
        key = self.key(cid)
        try:
            answer = self._call(f"HEAD {key}", ChunkFetchFailed, "head_object", Key=key, cid=cid)
        except ChunkNotFound:
            return None
        size = int(answer["ContentLength"])
        self._remember(cid, size)
        return size

    def _read_body(self, answer: Mapping[str, Any], cid: str, limit: int) -> bytes:
        """The body, refused unread when its Content-Length is over `limit` (it never fills memory)."""
        body = answer["Body"]
        try:
            length = int(answer.get("ContentLength", -1))
            if length > limit:
                raise ChunkFetchFailed(f"chunk {cid} from {self.url}: {length} bytes, more than {limit}")
            if length < 0:
                raise ChunkFetchFailed(f"chunk {cid} from {self.url}: answer without Content-Length")
            blob: bytes = body.read()  # botocore checks that Content-Length bytes arrived
            return blob
        finally:
            body.close()

    def _remember(self, cid: str, size: int) -> None:
        with self._lock:
            self._sizes[cid] = size
            if len(self._sizes) > _SIZE_CACHE_ENTRIES:
                self._sizes.popitem(last=False)

    def _call(
        self, what: str, failure: type[ContentError], operation: str, *, cid: str = "", **params: Any
    ) -> dict[str, Any]:
        """One S3 request (botocore retries it); its failures become one-line errors of type
        `failure`, a missing object `ChunkNotFound`."""
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        try:
            answer: dict[str, Any] = getattr(self._client, operation)(Bucket=self.bucket, **params)
            return answer
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
            if code == "NoSuchBucket":
                raise failure(f"{what}: bucket {self.bucket!r} does not exist") from None
            if code in ("404", "NoSuchKey", "NotFound") and cid:
                raise ChunkNotFound(f"chunk {cid} is not in {self.url}") from None
            if status == 403:
                raise failure(
                    f"{what} on {self.url}: access denied (403): check the credentials and the bucket's "
                    "policy (without s3:ListBucket, S3 answers 403 for a missing object)"
                ) from None
            retried = int(exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0))
            after = f" (after {retried} retries)" if retried else ""
            message = error.get("Message", "")
            raise failure(f"{what} on {self.url}: {code or status}: {message}{after}") from None
        except NoCredentialsError:
            raise failure(
                f"{what} on {self.url}: no S3 credentials: set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)"
            ) from None
        except BotoCoreError as exc:  # endpoint unreachable after retries, timeouts, bad config
            raise failure(f"{what} on {self.url}: {exc}") from None

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="s3-store")
            return self._pool


def _etag_matches(answer: Mapping[str, Any], md5_hex: str) -> bool:
    """False only when the ETag is an MD5 and not ours. With SSE-KMS or SSE-C the ETag is no MD5
    even when it looks like one, so it proves nothing there (Content-MD5 still guarded the body)."""
    kms = str(answer.get("ServerSideEncryption", "")).startswith("aws:kms")
    if kms or answer.get("SSECustomerAlgorithm"):
        return True
    etag = str(answer.get("ETag", "")).strip('"').lower()
    return not _MD5_ETAG.fullmatch(etag) or etag == md5_hex


def _make_client(settings: S3Settings, concurrency: int, retries: int, timeout: float) -> Any:
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise ContentError(MISSING_EXTRA) from None
    config = Config(
        region_name=settings.region,
        s3={"addressing_style": settings.addressing},
        retries={"mode": "standard", "max_attempts": retries},  # retries after the first try
        connect_timeout=min(timeout, 10.0),
        read_timeout=timeout,
        # missing()'s HEADs and the caller's own threads (build workers, installer fetches) at once
        max_pool_connections=2 * concurrency,
        # Only the checksums an operation requires: the CRC trailers botocore adds by default since
        # 1.36 (aws-chunked uploads) are refused by several S3-compatible stores; Content-MD5 and
        # the codec's SHA-256 cover integrity.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        user_agent_appid="parovoz-content",
    )
    # A session of its own: boto3's default session is not thread-safe to create clients from.
    return boto3.session.Session().client("s3", endpoint_url=settings.endpoint_url, config=config)
