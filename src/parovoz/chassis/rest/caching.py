"""Conditional GETs: strong ETags from the body bytes, `If-None-Match` and `If-Modified-Since`.

The ETag is a hash of exactly the bytes we would send, so it changes whenever the representation
does (language-independent bodies only: errors are never cached). `If-None-Match` uses the weak
comparison RFC 9110 §13.1.2 prescribes, and when it is present `If-Modified-Since` is ignored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from parovoz.chassis.rest.envelope import dumps


def etag_of(body_bytes: bytes) -> str:
    """A strong entity tag (quoted) of `body_bytes`."""
    return '"' + hashlib.blake2b(body_bytes, digest_size=16).hexdigest() + '"'


def _opaque(tag: str) -> str:
    tag = tag.strip()
    return tag[2:] if tag[:2] in ("W/", "w/") else tag


def none_match(if_none_match: str, etag: str) -> bool:
    """True when `If-None-Match` names `etag` (weak comparison) or is `*`: the client's copy is current."""
    wanted = _opaque(etag)
    return any(
        candidate.strip() == "*" or _opaque(candidate) == wanted for candidate in if_none_match.split(",")
    )


def http_date(moment: datetime) -> str:
    """IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) of an aware or UTC-naive datetime."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return format_datetime(aware.astimezone(UTC).replace(microsecond=0), usegmt=True)


def not_modified_since(if_modified_since: str, last_modified: datetime) -> bool:
    """True when the resource has not changed since the client's date (second precision)."""
    try:
        since = parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError, IndexError):
        return False  # an unparsable date is ignored, as RFC 9110 says
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    modified = last_modified if last_modified.tzinfo else last_modified.replace(tzinfo=UTC)
    return modified.replace(microsecond=0) <= since


def conditional(
    request: Request,
    payload: Any,
    last_modified: datetime | None = None,
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A JSON response carrying `ETag` (and `Last-Modified`), or a bodyless 304 when the client's copy
    is current."""
    body = dumps(payload)
    validators = {"ETag": etag_of(body)}
    if last_modified is not None:
        validators["Last-Modified"] = http_date(last_modified)
    if request.method in ("GET", "HEAD") and _is_fresh(request, validators["ETag"], last_modified):
        return Response(status_code=304, headers=validators)
    return Response(
        body,
        status_code=status_code,
        headers={**(headers or {}), **validators},
        media_type="application/json",
    )


def _is_fresh(request: Request, etag: str, last_modified: datetime | None) -> bool:
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        return none_match(if_none_match, etag)
    if_modified_since = request.headers.get("if-modified-since")
    if if_modified_since is not None and last_modified is not None:
        return not_modified_since(if_modified_since, last_modified)
    return False
