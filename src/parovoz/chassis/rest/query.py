"""List endpoints' query string: pagination, sorting, filters and field selection (CONTRACTS.md).

A route declares a `CollectionSpec` once (which columns exist under which API names, which may be
sorted, filtered with which operators, selected) and calls `parse_list_query`. Anything not
declared is a 400 with `source.parameter`, never silently ignored or clamped.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi import Request
from pydantic.alias_generators import to_snake
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import ColumnElement

from parovoz.chassis.errors import ApiError
from parovoz.chassis.rest.filtering import FilterParser, filter_error

MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 20
MAX_PAGE = 1_000_000
MAX_SORT_KEYS = 8
MAX_FIELDS_CHARS = 1024
LIST_PARAMETERS = frozenset({"page", "per_page", "sort", "fields", "filter"})
_DIGITS = re.compile(r"[0-9]{1,9}")

# fields=id,title,developer{id,name} -> {"id": None, "title": None, "developer": {"id": None, ...}}
FieldSelection = dict[str, "FieldSelection | None"]
SelectT = TypeVar("SelectT", bound=Select[Any])


@dataclass(frozen=True)
class CollectionSpec:
    """What a collection endpoint offers.

    `fields`: API name (camelCase, as in the body) → SQLAlchemy column. `filterable`: API name →
    the operators allowed on it; simple parameters use the API name or its snake_case form, with
    `_min` / `_max` for `gte` / `lte`. `selectable`: API name → None for an attribute, or the names
    selectable inside that relationship. `tiebreaker` is appended to every sort so pages are stable.
    `extra_parameters` are the route's own query parameters (not filters).
    """

    fields: Mapping[str, ColumnElement[Any]]
    sortable: Collection[str] = ()
    filterable: Mapping[str, Collection[str]] = field(default_factory=dict)
    default_sort: Sequence[str] = ()
    selectable: Mapping[str, Collection[str] | None] = field(default_factory=dict)
    tiebreaker: str | None = None
    extra_parameters: Collection[str] = ()

    def __post_init__(self) -> None:
        declared = set(self.fields)
        for name in [*self.sortable, *self.filterable, *(s.lstrip("-") for s in self.default_sort)]:
            if name not in declared:
                raise ValueError(f"{name} is not among the declared fields")
        if self.tiebreaker is not None and self.tiebreaker not in declared:
            raise ValueError(f"tiebreaker {self.tiebreaker} is not declared")


@dataclass(frozen=True)
class ListQuery:
    page: int
    per_page: int
    order_by: tuple[ColumnElement[Any], ...]
    where: tuple[ColumnElement[bool], ...]
    fields: FieldSelection | None

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    def filtered(self, stmt: SelectT) -> SelectT:
        """`stmt` with the filters (use it for the total count too)."""
        return stmt.where(*self.where)

    def apply(self, stmt: SelectT) -> SelectT:
        """`stmt` with filters, order, limit and offset: one page."""
        return self.filtered(stmt).order_by(*self.order_by).limit(self.per_page).offset(self.offset)


def _single(params: Any, name: str, code: str) -> str | None:
    values = params.getlist(name)
    if len(values) > 1:  # a repeated parameter is ambiguous: refuse rather than pick one
        if code == "INVALID_FILTER":
            raise filter_error(name, f"параметр {name} повторяется", f"{name} is repeated")
        raise ApiError(400, code, parameter=name, params={"max": MAX_PER_PAGE, "field": name})
    return values[0] if values else None


def _page_number(params: Any, name: str, default: int, maximum: int) -> int:
    raw = _single(params, name, "INVALID_PAGINATION")
    if raw is None:
        return default
    number = int(raw) if _DIGITS.fullmatch(raw) else 0
    if not 1 <= number <= maximum:
        raise ApiError(400, "INVALID_PAGINATION", parameter=name, params={"max": MAX_PER_PAGE})
    return number


def _order_by(raw: str | None, spec: CollectionSpec) -> tuple[ColumnElement[Any], ...]:
    keys = [k.strip() for k in raw.split(",")] if raw is not None else list(spec.default_sort)
    if len(keys) > MAX_SORT_KEYS:
        raise ApiError(400, "INVALID_SORT", parameter="sort", params={"field": raw or ""})
    sortable = set(spec.sortable) | {k.removeprefix("-") for k in spec.default_sort}
    order: list[ColumnElement[Any]] = []
    used: set[str] = set()
    for key in keys:
        name = key.removeprefix("-")
        if name not in sortable:
            raise ApiError(400, "INVALID_SORT", parameter="sort", params={"field": name})
        if name in used:
            continue
        used.add(name)
        column = spec.fields[name]
        order.append(column.desc() if key.startswith("-") else column.asc())
    if spec.tiebreaker and spec.tiebreaker not in used:
        order.append(spec.fields[spec.tiebreaker].asc())
    return tuple(order)


def parse_fields(raw: str, selectable: Mapping[str, Collection[str] | None]) -> FieldSelection:
    """`id,title,developer{id,name}` → a selection; 400 `INVALID_FIELDS` for anything undeclared."""

    def invalid(name: str) -> ApiError:
        return ApiError(400, "INVALID_FIELDS", parameter="fields", params={"field": name})

    if len(raw) > MAX_FIELDS_CHARS:
        raise invalid(raw[:40])
    selection: FieldSelection = {}
    start, length = 0, len(raw)
    while True:
        end = start
        while end < length and raw[end] not in ",{}":
            end += 1
        name = raw[start:end].strip()
        if name != "id" and name not in selectable:
            raise invalid(name or raw)
        if end < length and raw[end] == "{":
            close = raw.find("}", end)
            inner_allowed = selectable.get(name)
            if close < 0 or inner_allowed is None:
                raise invalid(name)
            inner = [part.strip() for part in raw[end + 1 : close].split(",")]
            bad = next((p for p in inner if "{" in p or (p != "id" and p not in inner_allowed)), None)
            if bad is not None:
                raise invalid(f"{name}.{bad}")
            selection[name] = dict.fromkeys(inner)
            end = close + 1
        else:
            selection[name] = None
        if end >= length:
            return selection
        if raw[end] != ",":
            raise invalid(raw)
        start = end + 1


def parse_list_params(params: Any, spec: CollectionSpec) -> ListQuery:
    """`parse_list_query` over a Starlette `QueryParams` (or any multi-dict with `getlist`)."""
    page = _page_number(params, "page", 1, MAX_PAGE)
    per_page = _page_number(params, "per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE)
    order_by = _order_by(_single(params, "sort", "INVALID_SORT"), spec)

    raw_fields = _single(params, "fields", "INVALID_FIELDS")
    fields = parse_fields(raw_fields, spec.selectable) if raw_fields is not None else None

    allowed = {name: frozenset(ops) for name, ops in spec.filterable.items()}
    parser = FilterParser(spec.fields, allowed)
    where: list[ColumnElement[bool]] = []
    raw_filter = _single(params, "filter", "INVALID_FILTER")
    if raw_filter is not None:
        where.append(parser.parse_json(raw_filter))
    simple_names = {n: n for n in spec.fields} | {to_snake(n): n for n in spec.fields}
    extra = set(spec.extra_parameters)
    for key in dict.fromkeys(params.keys()):
        if key in LIST_PARAMETERS or key in extra:
            continue
        raw = _single(params, key, "INVALID_FILTER")
        name, operator = simple_names.get(key), "eq"
        if name is None and key.endswith(("_min", "_max")):
            name, operator = simple_names.get(key[:-4]), "gte" if key.endswith("_min") else "lte"
        if name is None:
            raise filter_error(key, f"неизвестный параметр {key}", f"unknown parameter {key}")
        if operator == "eq" and "," in (raw or "") and "in" in allowed.get(name, ()):
            operator = "in"
        where.append(parser.clause(key, name, operator, raw))
    return ListQuery(page, per_page, order_by, tuple(where), fields)


def parse_list_query(request: Request, spec: CollectionSpec) -> ListQuery:
    """Page, sort, filters and field selection of a list request, checked against `spec`."""
    return parse_list_params(request.query_params, spec)


def _trim(obj: Any, selection: FieldSelection | None) -> Any:
    if selection is None or not isinstance(obj, dict):
        return obj
    if "data" in obj and "attributes" not in obj:  # a relationship object: {"data": ...}
        data = obj["data"]
        trimmed = [_trim(d, selection) for d in data] if isinstance(data, list) else _trim(data, selection)
        return {**obj, "data": trimmed}
    return select_fields(obj, selection)


def select_fields(resource_obj: dict[str, Any], fields: FieldSelection | None) -> dict[str, Any]:
    """The resource with only the selected attributes and relationships (id and type always kept)."""
    if fields is None:
        return resource_obj
    out = {k: v for k, v in resource_obj.items() if k not in ("attributes", "relationships")}
    if "attributes" in resource_obj:
        out["attributes"] = {k: v for k, v in resource_obj["attributes"].items() if k in fields}
    if "relationships" in resource_obj:
        out["relationships"] = {
            k: _trim(v, fields[k]) for k, v in resource_obj["relationships"].items() if k in fields
        }
    return out
