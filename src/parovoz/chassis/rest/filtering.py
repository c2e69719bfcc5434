"""Collection filters → SQLAlchemy Core clauses over declared columns only.

Two spellings (CONTRACTS.md): simple parameters (`genre=rpg`, `price_min=500`, `price_max=900`)
and `filter` as JSON with `and` / `or` / `not` and the operators eq, ne, lt, lte, gt, gte, in,
contains. Every value is coerced to the column's type here, so a bad value is a 400
`INVALID_FILTER` and never a database error (a 500) later.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from parovoz.chassis import context
from parovoz.chassis.errors import ApiError

OPERATORS = frozenset({"eq", "ne", "lt", "lte", "gt", "gte", "in", "contains"})
MAX_FILTER_CHARS = 4096
MAX_FILTER_DEPTH = 8
MAX_FILTER_NODES = 64
MAX_IN_VALUES = 100
_INT_BOUNDS = {sa.SmallInteger: 2**15, sa.BigInteger: 2**63, sa.Integer: 2**31}


def filter_error(parameter: str, ru: str, en: str) -> ApiError:
    reason = ru if context.language.get() == "ru" else en
    return ApiError(400, "INVALID_FILTER", parameter=parameter, params={"reason": reason})


def _bad_value(parameter: str, name: str) -> ApiError:
    return filter_error(parameter, f"неверное значение поля {name}", f"bad value for {name}")


def _int_bound(column_type: sa.types.TypeEngine[Any]) -> int:
    for kind, bound in _INT_BOUNDS.items():  # SmallInteger/BigInteger before their base Integer
        if isinstance(column_type, kind):
            return bound
    return 2**63


def coerce_value(column: ColumnElement[Any], value: Any) -> Any:
    """`value` (a query-string text or a JSON scalar) as the column's Python type; ValueError if not."""
    column_type = column.type
    if isinstance(column_type, sa.ARRAY):
        column_type = column_type.item_type
    if isinstance(column_type, sa.Uuid):
        parsed = uuid.UUID(value) if isinstance(value, str) else None
        if parsed is None:
            raise ValueError("uuid expected")
        return parsed if column_type.as_uuid else str(parsed)
    if isinstance(column_type, sa.Boolean):
        if isinstance(value, bool):
            return value
        if value in ("true", "1"):
            return True
        if value in ("false", "0"):
            return False
        raise ValueError("boolean expected")
    if isinstance(column_type, sa.Integer):
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise ValueError("integer expected")
        number = int(value)
        bound = _int_bound(column_type)
        if not -bound <= number < bound:
            raise ValueError("integer out of range")
        return number
    if isinstance(column_type, (sa.Numeric, sa.Float)):
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValueError("number expected")
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise ValueError("number expected") from None
        if not number.is_finite():
            raise ValueError("finite number expected")
        return float(number) if isinstance(column_type, sa.Float) else number
    if isinstance(column_type, sa.DateTime):
        if not isinstance(value, str):
            raise ValueError("date-time expected")
        moment = datetime.fromisoformat(value)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if isinstance(column_type, sa.Date):
        if not isinstance(value, str):
            raise ValueError("date expected")
        return date.fromisoformat(value)
    if not isinstance(value, str) or "\x00" in value:
        raise ValueError("text expected")
    if isinstance(column_type, sa.Enum) and value not in column_type.enums:
        raise ValueError("unknown enum value")
    return value


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _in_values(column: ColumnElement[Any], raw: Any) -> list[Any]:
    items = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_IN_VALUES:
        raise ValueError("list expected")
    return [coerce_value(column, item) for item in items]


_COMPARISONS: dict[str, Callable[[ColumnElement[Any], Any], ColumnElement[bool]]] = {
    "lt": lambda c, v: c < v,
    "lte": lambda c, v: c <= v,
    "gt": lambda c, v: c > v,
    "gte": lambda c, v: c >= v,
}


def condition(column: ColumnElement[Any], operator: str, raw: Any) -> ColumnElement[bool]:
    """The clause `column <operator> raw`; raises ValueError for a value the column cannot hold."""
    if operator in ("eq", "ne") and raw is None:
        return column.is_(None) if operator == "eq" else column.is_not(None)
    if operator == "in":
        return column.in_(_in_values(column, raw))
    if operator == "contains":
        if isinstance(column.type, sa.ARRAY):
            return column.contains([coerce_value(column, raw)])
        if not isinstance(column.type, sa.String):
            raise ValueError("contains applies to text")
        return column.ilike(_like_pattern(coerce_value(column, raw)), escape="\\")
    value = coerce_value(column, raw)
    if operator == "eq":
        return column == value
    if operator == "ne":
        return column != value
    return _COMPARISONS[operator](column, value)


class FilterParser:
    """Builds clauses from simple parameters and the `filter` JSON tree of one request."""

    def __init__(
        self,
        columns: Mapping[str, ColumnElement[Any]],
        allowed: Mapping[str, frozenset[str]],
    ) -> None:
        self.columns = columns
        self.allowed = allowed  # api name -> operators allowed on it
        self._nodes = 0

    def clause(self, parameter: str, name: str, operator: str, raw: Any) -> ColumnElement[bool]:
        if name not in self.allowed:
            raise filter_error(parameter, f"поле {name} не фильтруется", f"{name} is not filterable")
        if operator not in OPERATORS or operator not in self.allowed[name]:
            raise filter_error(
                parameter, f"оператор {operator} недоступен для {name}", f"no {operator} for {name}"
            )
        try:
            return condition(self.columns[name], operator, raw)
        except (ValueError, TypeError, ArithmeticError):
            raise _bad_value(parameter, name) from None

    def parse_json(self, text: str) -> ColumnElement[bool]:
        if len(text) > MAX_FILTER_CHARS:
            raise filter_error("filter", "фильтр слишком длинный", "the filter is too long")
        try:
            tree = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise filter_error("filter", "некорректный JSON", "malformed JSON") from None
        return self._node(tree, depth=0)

    def _node(self, node: Any, depth: int) -> ColumnElement[bool]:
        self._nodes += 1
        if depth > MAX_FILTER_DEPTH or self._nodes > MAX_FILTER_NODES:
            raise filter_error("filter", "фильтр слишком сложный", "the filter is too complex")
        if not isinstance(node, dict) or not node:
            raise filter_error("filter", "ожидается объект", "an object is expected")
        clauses = [self._entry(key, value, depth) for key, value in node.items()]
        return clauses[0] if len(clauses) == 1 else sa.and_(*clauses)

    def _entry(self, key: str, value: Any, depth: int) -> ColumnElement[bool]:
        if key in ("and", "or"):
            if not isinstance(value, list) or not value:
                raise filter_error("filter", f"{key} ожидает список", f"{key} expects a list")
            parts = [self._node(item, depth + 1) for item in value]
            return sa.and_(*parts) if key == "and" else sa.or_(*parts)
        if key == "not":
            return sa.not_(self._node(value, depth + 1))
        if not isinstance(value, dict):
            return self.clause("filter", key, "eq", value)  # {"genre": "rpg"} is short for eq
        if not value:
            raise filter_error("filter", f"нет условий для {key}", f"no conditions for {key}")
        parts = [self.clause("filter", key, op, operand) for op, operand in value.items()]
        return parts[0] if len(parts) == 1 else sa.and_(*parts)
