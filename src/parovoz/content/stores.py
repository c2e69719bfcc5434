"""A chunk store from its spec, wherever a command takes one (`--store`, `--from`):

- a directory: `LocalChunkStore` (created when written to; must hold `chunks/` when read from);
- `s3://BUCKET[/PREFIX]`: `S3ChunkStore` (the `s3` extra; endpoint, region and addressing from
  `PAROVOZ_CONTENT_S3_*`, see `s3_store.S3Settings`);
- `http://` or `https://`: `HttpChunkStore`, a chunk origin or CDN, read-only.
"""

from __future__ import annotations

import re
from pathlib import Path

from parovoz.content.errors import ContentError
from parovoz.content.store import ChunkStore

S3_SCHEME = "s3://"
_ANY_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
# S3's rules for new buckets: 3-63 of lower-case letters, digits, dots and hyphens, alphanumeric at
# both ends, no "..", not an IP address.
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_IP_ADDRESS = re.compile(r"\d+\.\d+\.\d+\.\d+")


def parse_s3_spec(spec: str) -> tuple[str, str]:
    """(bucket, prefix) of `s3://BUCKET[/PREFIX]`; the prefix without a trailing slash, maybe empty."""
    if not spec.startswith(S3_SCHEME):
        raise ContentError(f"{spec!r} is not an s3://BUCKET[/PREFIX] store")
    bucket, _, prefix = spec[len(S3_SCHEME) :].partition("/")
    if not _BUCKET.fullmatch(bucket) or ".." in bucket or _IP_ADDRESS.fullmatch(bucket):
        raise ContentError(
            f"{spec!r}: {bucket!r} is not an S3 bucket name "
            "(3-63 lower-case letters, digits, dots and hyphens)"
        )
    prefix = prefix.rstrip("/")  # a trailing slash is harmless; a leading one is an empty part
    parts = prefix.split("/") if prefix else []
    if any(part in ("", ".", "..") for part in parts) or not prefix.isprintable() or "\\" in prefix:
        raise ContentError(
            f"{spec!r}: the prefix must be '/'-separated names, without empty, '.' or '..' parts"
        )
    return bucket, prefix


def open_store(spec: str, *, writable: bool, concurrency: int = 16) -> ChunkStore:
    """The store `spec` names; `writable` for a build (an HTTP origin is then refused), else a read
    store (a directory must already be a store). `concurrency` bounds a remote store's requests."""
    if spec.startswith(S3_SCHEME):
        bucket, prefix = parse_s3_spec(spec)
        from parovoz.content.s3_store import S3ChunkStore

        return S3ChunkStore(bucket, prefix, concurrency=concurrency)
    if spec.startswith(("http://", "https://")):
        if writable:
            raise ContentError(
                f"{spec} is a read-only chunk origin: build into a directory or an s3:// store"
            )
        from parovoz.content.http_store import HttpChunkStore

        return HttpChunkStore(spec, concurrency=concurrency)
    if _ANY_SCHEME.match(spec):
        raise ContentError(
            f"{spec!r}: not a chunk store (a directory, s3://BUCKET[/PREFIX], or an http(s) chunk origin)"
        )
    from parovoz.content.store import LocalChunkStore

    if not writable and not (Path(spec) / "chunks").is_dir():
        raise ContentError(f"{spec} is not a chunk store (no chunks/ directory in it)")
    return LocalChunkStore(spec)
