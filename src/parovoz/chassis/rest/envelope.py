"""The JSON:API-like envelope of CONTRACTS.md: `{"data": ...}`, collections with `meta` + `links`.

Routes build dicts with `resource` / `document` / `collection_document` and return them in an
`EnvelopeResponse` (orjson: several times faster than the stdlib encoder, RFC 3339 `Z` times).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

import orjson
from pydantic import BaseModel
from starlette.datastructures import URL
from starlette.responses import Response

ORJSON_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC


def _default(value: Any) -> Any:
    """orjson fallback for values it does not know: pydantic models (camelCase) and decimals."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"cannot serialize {type(value).__name__}")


def dumps(payload: Any) -> bytes:
    """JSON bytes the way every REST response is encoded."""
    return orjson.dumps(payload, default=_default, option=ORJSON_OPTIONS)


class EnvelopeResponse(Response):
    """A JSON response encoded with orjson."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content)


class PageLike(Protocol):
    """Anything with 1-based `page` and `per_page` (a `ListQuery` or `PageParams`)."""

    @property
    def page(self) -> int: ...

    @property
    def per_page(self) -> int: ...


@dataclass(frozen=True)
class PageParams:
    page: int = 1
    per_page: int = 20

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


def resource(
    type_: str,
    id_: Any,
    attributes: Mapping[str, Any] | BaseModel,
    relationships: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One resource object: `{"id", "type", "attributes", "relationships"?}`; ids become strings."""
    if isinstance(attributes, BaseModel):
        attrs = attributes.model_dump(mode="json", by_alias=True)
    else:
        attrs = dict(attributes)
    obj: dict[str, Any] = {"id": str(id_), "type": type_, "attributes": attrs}
    if relationships is not None:
        obj["relationships"] = dict(relationships)
    return obj


def document(
    resource_or_list: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None,
    meta: Mapping[str, Any] | None = None,
    links: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """`{"data": ..., "meta"?, "links"?}`."""
    data: Any = list(resource_or_list) if isinstance(resource_or_list, Sequence) else resource_or_list
    doc: dict[str, Any] = {"data": data}
    if meta is not None:
        doc["meta"] = dict(meta)
    if links is not None:
        doc["links"] = dict(links)
    return doc


def page_link(url: URL, page: int, per_page: int) -> str:
    """The absolute path of `url` at `page`, keeping every other query parameter."""
    target = url.include_query_params(page=page, per_page=per_page)
    return f"{target.path}?{target.query}"


def collection_document(
    items: Sequence[Mapping[str, Any]],
    page: PageLike,
    total: int,
    url: URL,
    meta: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A page of a collection with `meta` (page, perPage, totalPages, totalItems) and `links`.

    `url` is the request URL; links are absolute paths (no scheme/host: the gateway's host is the
    client's, not ours). `prev`/`next` are null at the ends; with no items `last` is page 1.
    """
    total_pages = math.ceil(total / page.per_page) if total > 0 else 0
    last_page = max(total_pages, 1)
    current = page.page
    links = {
        "self": page_link(url, current, page.per_page),
        "first": page_link(url, 1, page.per_page),
        "prev": page_link(url, min(current - 1, last_page), page.per_page) if current > 1 else None,
        "next": page_link(url, current + 1, page.per_page) if current < total_pages else None,
        "last": page_link(url, last_page, page.per_page),
    }
    full_meta = {"page": current, "perPage": page.per_page, "totalPages": total_pages, "totalItems": total}
    if meta:
        full_meta.update(meta)
    return {"data": list(items), "meta": full_meta, "links": links}
