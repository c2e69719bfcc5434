"""Request bodies of `Body(Model)` routes in the OpenAPI document.

`Body(...)` reads the body itself (so FastAPI does not document it); here we walk each route's
dependency tree, find the body models and add `requestBody` with both accepted forms: the
enveloped `{"data": {"type", "id"?, "attributes"}}` and the bare attributes object.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from fastapi import routing as fastapi_routing
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel

from parovoz.chassis.rest.body import body_model_of

REF = "#/components/schemas/{model}"


def _body_models(dependant: Dependant) -> Iterator[type[BaseModel]]:
    model = body_model_of(dependant.call)
    if model is not None:
        yield model
    for sub in dependant.dependencies:
        yield from _body_models(sub)


def _register(schemas: dict[str, Any], model: type[BaseModel]) -> str:
    """Add `model` (and the models it uses) to the components; returns the envelope's name."""
    schema = model.model_json_schema(by_alias=True, ref_template=REF, mode="validation")
    schemas.update(schema.pop("$defs", {}))
    schemas[model.__name__] = schema
    envelope_name = f"{model.__name__}Document"
    schemas[envelope_name] = {
        "title": envelope_name,
        "type": "object",
        "required": ["data"],
        "properties": {
            "data": {
                "type": "object",
                "required": ["attributes"],
                "properties": {
                    "type": {"type": "string"},
                    "id": {"type": "string"},
                    "attributes": {"$ref": REF.format(model=model.__name__)},
                },
            }
        },
    }
    return envelope_name


def _api_routes(routes: Iterable[Any]) -> Iterator[tuple[str, APIRoute]]:
    """(full path template, route) of every API route, included routers' too.

    FastAPI ≥ 0.130 keeps included routers as `_IncludedRouter` and walks them with
    `iter_route_contexts` (whose `path_format` carries the prefixes); older versions copy the routes.
    """
    iter_contexts = getattr(fastapi_routing, "iter_route_contexts", None)
    if iter_contexts is None:
        for route in routes:
            if isinstance(route, APIRoute):
                yield route.path_format, route
        return
    for route_context in iter_contexts(list(routes)):
        original = route_context.original_route
        if isinstance(original, APIRoute) and route_context.path_format:
            yield route_context.path_format, original


def add_request_bodies(openapi: dict[str, Any], routes: Iterable[Any]) -> None:
    """Document every `Body(...)` route's request body in `openapi` (mutated in place)."""
    schemas = openapi.setdefault("components", {}).setdefault("schemas", {})
    for path_format, route in _api_routes(routes):
        models = list(_body_models(route.dependant))
        if not models:
            continue
        model = models[0]
        envelope_name = _register(schemas, model)
        body = {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "oneOf": [
                            {"$ref": REF.format(model=envelope_name)},
                            {"$ref": REF.format(model=model.__name__)},
                        ]
                    }
                }
            },
        }
        operations = openapi.get("paths", {}).get(path_format, {})
        for method in route.methods or ():
            operation = operations.get(method.lower())
            if operation is not None:
                operation["requestBody"] = body
