"""`ApiError` → the contract's `{"errors": [...]}` body, framework-free.

The API gateway and the service apps both render errors through `render_error`, so every 4xx/5xx
of the platform has the same shape and the same localized texts. Only the catalogue's texts (or
an item's explicit `detail`) reach the body: never exception messages, SQL or class names.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from parovoz.chassis.errors import DEFAULT_LANGUAGE, LANGUAGES, ApiError, ErrorItem, message_for

JSON_CONTENT_TYPE = b"application/json"


def _item_json(item: ErrorItem, language: str) -> dict[str, Any]:
    title, detail = message_for(item.code, language, item.params)
    entry: dict[str, Any] = {"code": item.code, "title": title, "detail": item.detail or detail}
    source: dict[str, str] = {}
    if item.pointer is not None:
        source["pointer"] = item.pointer
    if item.parameter is not None:
        source["parameter"] = item.parameter
    if source:
        entry["source"] = source
    if item.meta:
        entry["meta"] = dict(item.meta)
    return entry


def error_document(error: ApiError, language: str) -> dict[str, Any]:
    """The `{"errors": [...]}` document of `error` in `language`."""
    return {"errors": [_item_json(item, language) for item in error.items]}


def error_body(error: ApiError, language: str) -> bytes:
    """The JSON bytes of `error_document`."""
    return orjson.dumps(error_document(error, language))


def render_error(error: ApiError, language: str) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """(status, raw ASGI headers, body) of `error`; `error.headers` (Retry-After, ...) included."""
    body = error_body(error, language)
    headers = [
        (b"content-type", JSON_CONTENT_TYPE),
        (b"content-length", str(len(body)).encode("latin-1")),
    ]
    headers.extend(_raw_headers(error.headers.items()))
    return error.status, headers, body


def _raw_headers(pairs: Iterable[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in pairs]


def negotiate_language(accept_language_header: str | None) -> str:
    """ "ru" or "en" from an `Accept-Language` header (RFC 9110 q-values; ru when nothing fits).

    The first listed of equally weighted languages wins; `q=0` means "not this one".
    """
    if not accept_language_header:
        return DEFAULT_LANGUAGE
    best_language, best_q = DEFAULT_LANGUAGE, 0.0
    # Bound the work a hostile header can cause: real browsers send a handful of ranges.
    for part in accept_language_header.split(",")[:32]:
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-", 1)[0]
        if primary == "*":
            primary = DEFAULT_LANGUAGE
        if primary not in LANGUAGES:
            continue
        q = _quality(params)
        if q > best_q:
            best_language, best_q = primary, q
    return best_language


def _quality(params: str) -> float:
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                q = float(value.strip())
            except ValueError:
                return 0.0
            return q if 0.0 <= q <= 1.0 else 0.0
    return 1.0
