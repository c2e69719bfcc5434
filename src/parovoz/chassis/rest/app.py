"""`create_service_app`: the FastAPI app of one service, with the chassis' REST behaviour built in.

Every service gets the same error shape (ApiError, validation, 404, 405, 500), the request
middleware (`middleware.py`), `/healthz`, `/readyz`, `/metrics` and `/openapi.json`. The service
contributes only `spec.router(ctx)`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from parovoz.chassis.errors import ApiError, ErrorItem
from parovoz.chassis.obs.logging import get_logger
from parovoz.chassis.obs.metrics import render as render_metrics
from parovoz.chassis.rest.body import json_pointer
from parovoz.chassis.rest.errors import negotiate_language, render_error
from parovoz.chassis.rest.middleware import RequestMiddleware
from parovoz.chassis.rest.openapi import add_request_bodies
from parovoz.chassis.rest.probes import ServiceApp
from parovoz.chassis.service import ServiceContext, ServiceSpec

log = get_logger(__name__)

# Statuses Starlette/FastAPI raise as HTTPException → our codes (anything else: by class).
_HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "ROUTE_NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    412: "PRECONDITION_FAILED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "VALIDATION_FAILED",
}
# HTTPException headers worth keeping (Allow on 405); others could leak framework details.
_KEPT_HEADERS = frozenset({"allow", "retry-after", "www-authenticate"})


def error_response(request: Request, error: ApiError) -> Response:
    status, headers, body = render_error(error, negotiate_language(request.headers.get("accept-language")))
    response = Response(content=body, status_code=status)
    response.raw_headers = headers
    return response


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(request, exc)


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code) or ("INTERNAL_ERROR" if exc.status_code >= 500 else "BAD_REQUEST")
    headers = {k: v for k, v in (exc.headers or {}).items() if k.lower() in _KEPT_HEADERS}
    return error_response(request, ApiError(exc.status_code, code, headers=headers))


def validation_api_error(errors: list[dict[str, Any]]) -> ApiError:
    """FastAPI's own parameter validation → 400 `INVALID_PARAMETER` (query/path/header) or 422 (body)."""
    items: list[ErrorItem] = []
    status = 400
    for error in errors:
        location, *path = error.get("loc", ()) or ("query",)
        if error.get("type") == "json_invalid":
            return ApiError(400, "MALFORMED_JSON")
        if location == "body":
            status = 422
            items.append(ErrorItem("VALIDATION_FAILED", pointer=json_pointer(path)))
        else:
            name = str(path[0]) if path else str(location)
            items.append(ErrorItem("INVALID_PARAMETER", parameter=name, params={"name": name}))
    if status == 422:
        items = [item for item in items if item.code == "VALIDATION_FAILED"]
        return ApiError(422, "VALIDATION_FAILED", items=items)
    return ApiError(400, "INVALID_PARAMETER", items=items)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return error_response(request, validation_api_error(list(exc.errors())))


def create_service_app(
    spec: ServiceSpec, ctx: ServiceContext, ready: Callable[[], Awaitable[bool]]
) -> ServiceApp:
    """The service's ASGI app: `spec.router(ctx)` plus the chassis' routes, handlers and middleware;
    `/healthz` and `/readyz` are answered in front of FastAPI (probes.py)."""
    app = FastAPI(title=spec.title, version="1", docs_url=None, redoc_url=None, openapi_url="/openapi.json")
    app.state.ctx = ctx
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_middleware(RequestMiddleware, service=spec.name, max_body_bytes=ctx.settings.max_body_bytes)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        body, content_type = render_metrics()
        return Response(body, media_type=content_type)

    app.include_router(spec.router(ctx))

    default_openapi = app.openapi

    def openapi_with_bodies() -> dict[str, Any]:
        if app.openapi_schema is None:
            add_request_bodies(default_openapi(), app.routes)
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi_with_bodies  # type: ignore[method-assign]
    return ServiceApp(app, ready, spec.name)
