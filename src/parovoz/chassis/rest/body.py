"""Request bodies: JSON in, a validated `StrictBody` model out, errors in the contract's shape.

Both the enveloped form `{"data": {"type": ..., "attributes": {...}}}` and the bare attributes
object are accepted. We parse the body ourselves (not through FastAPI's body parameters) so that a
malformed or hostile body gets the contract's codes and pointers; `Body(Model)` only marks the
dependency so the app factory can document the request body in OpenAPI (see `openapi.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import orjson
from fastapi import Depends, Request
from pydantic import BaseModel, ValidationError

from parovoz.chassis import context
from parovoz.chassis.errors import ApiError, ErrorItem

ModelT = TypeVar("ModelT", bound=BaseModel)

# Marks a dependency callable as a body parser; the value is the attributes model.
BODY_MODEL_ATTR = "__parovoz_body_model__"

# pydantic error type -> (ru, en) detail. Anything else gets the catalogue's generic detail.
_DETAILS: dict[str, tuple[str, str]] = {
    "missing": ("Обязательное поле.", "This field is required."),
    "extra_forbidden": ("Неизвестное поле.", "Unknown field."),
    "string_too_short": ("Значение слишком короткое.", "The value is too short."),
    "string_too_long": ("Значение слишком длинное.", "The value is too long."),
    "too_short": ("Слишком мало элементов.", "Too few items."),
    "too_long": ("Слишком много элементов.", "Too many items."),
    "greater_than": ("Значение слишком мало.", "The value is too small."),
    "greater_than_equal": ("Значение слишком мало.", "The value is too small."),
    "less_than": ("Значение слишком велико.", "The value is too large."),
    "less_than_equal": ("Значение слишком велико.", "The value is too large."),
    "string_pattern_mismatch": ("Значение имеет неверный формат.", "The value has the wrong format."),
    "enum": ("Недопустимое значение.", "The value is not allowed."),
    "literal_error": ("Недопустимое значение.", "The value is not allowed."),
}
_WRONG_TYPE = ("Неверный тип значения.", "The value has the wrong type.")


def is_json_media_type(content_type: str | None) -> bool:
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def json_pointer(parts: Sequence[str | int]) -> str:
    """RFC 6901 pointer of a path (`~` and `/` escaped)."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _detail_for(error: Any, language: str) -> str | None:
    kind = error["type"]
    if kind == "value_error":
        # A model's own validator: its message is written for clients.
        message = str(error.get("msg", ""))
        return message.removeprefix("Value error, ") or None
    texts = _DETAILS.get(kind)
    if texts is None and (kind.endswith("_type") or kind.endswith("_parsing")):
        texts = _WRONG_TYPE
    if texts is None:
        return None
    return texts[0] if language == "ru" else texts[1]


def validation_error(exc: ValidationError, prefix: Sequence[str | int]) -> ApiError:
    """422 `VALIDATION_FAILED` with one item per offending field, pointers under `prefix`."""
    language = context.language.get()
    items: list[ErrorItem] = []
    seen: set[str] = set()
    for error in exc.errors(include_url=False, include_input=False):
        pointer = json_pointer([*prefix, *error["loc"]])
        if pointer in seen:  # unions report each branch: one entry per field is enough
            continue
        seen.add(pointer)
        items.append(ErrorItem("VALIDATION_FAILED", pointer=pointer, detail=_detail_for(error, language)))
    return ApiError(422, "VALIDATION_FAILED", items=items)


def _field_names(model: type[BaseModel]) -> set[str]:
    return {f.alias or name for name, f in model.model_fields.items()}


def unwrap_attributes(payload: Any, model: type[BaseModel]) -> tuple[Any, list[str]]:
    """(attributes, pointer prefix): unwraps `{"data": {"attributes": ...}}` when the body is enveloped."""
    if isinstance(payload, dict) and "data" in payload and "data" not in _field_names(model):
        data = payload["data"]
        if not isinstance(data, dict):
            raise ApiError(422, "VALIDATION_FAILED", pointer="/data", detail=_object_expected())
        attributes = data.get("attributes", {})
        if not isinstance(attributes, dict):
            raise ApiError(422, "VALIDATION_FAILED", pointer="/data/attributes", detail=_object_expected())
        return attributes, ["data", "attributes"]
    if not isinstance(payload, dict):
        raise ApiError(422, "VALIDATION_FAILED", pointer="", detail=_object_expected())
    return payload, []


def _object_expected() -> str:
    return "Ожидается объект JSON." if context.language.get() == "ru" else "A JSON object is expected."


def decode_json(raw: bytes, content_type: str | None) -> Any:
    """Parsed JSON of a request body: 415 when not JSON, 400 `MALFORMED_JSON` when unparsable.

    orjson refuses nesting deeper than 1024 levels, so a hostile deep document is a 400, not a
    RecursionError deep inside validation.
    """
    if not is_json_media_type(content_type):
        raise ApiError(415, "UNSUPPORTED_MEDIA_TYPE")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ApiError(400, "MALFORMED_JSON") from None


def validate_payload(payload: Any, model: type[ModelT]) -> ModelT:
    attributes, prefix = unwrap_attributes(payload, model)
    try:
        return model.model_validate(attributes)
    except ValidationError as exc:
        raise validation_error(exc, prefix) from None
    except RecursionError:
        raise ApiError(400, "MALFORMED_JSON") from None


async def parse_body(request: Request, model: type[ModelT]) -> ModelT:
    """Read, decode and validate the request body as `model` (attributes of the enveloped form)."""
    raw = await request.body()
    return validate_payload(decode_json(raw, request.headers.get("content-type")), model)


def Body(model: type[ModelT]) -> Any:  # named like FastAPI's own `Body(...)` on purpose
    """`attrs: MyBody = Body(MyBody)`: a dependency parsing the body as `model`, documented in OpenAPI."""

    async def dependency(request: Request) -> ModelT:
        return await parse_body(request, model)

    setattr(dependency, BODY_MODEL_ATTR, model)
    dependency.__name__ = f"body_{model.__name__}"
    return Depends(dependency)


def body_model_of(call: Callable[..., Any] | None) -> type[BaseModel] | None:
    """The attributes model of a `Body(...)` dependency callable, else None."""
    return getattr(call, BODY_MODEL_ATTR, None) if call is not None else None
