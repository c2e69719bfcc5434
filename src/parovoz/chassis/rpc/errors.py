"""ApiError ⇄ gRPC status: standard codes plus `google.rpc.Status` details.

A servicer raises `ApiError`; the caller gets the matching status code and, in the
`grpc-status-details-bin` trailer, a `google.rpc.Status` carrying:
- `ErrorInfo`: reason = the ApiError code (the same code the REST error would carry), domain =
  `parovoz.<service>`, metadata = `httpStatus`, `pointer`/`parameter` and `param.<name>` values;
- `LocalizedMessage`: the detail in the caller's language (`chassis.context.language`);
- `BadRequest` with one field violation per item when the error names fields (validation);
- `RetryInfo` when the error carries `Retry-After`.
`api_error_from` rebuilds the ApiError on the calling side, so a REST API can pass it on as is.
"""

from __future__ import annotations

from typing import Any, NoReturn

import grpc
from google.protobuf import duration_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from parovoz.chassis import context
from parovoz.chassis.errors import ApiError, ErrorItem, message_for
from parovoz.chassis.rpc.metadata import serving_service

DETAILS_KEY = "grpc-status-details-bin"
DEFAULT_DOMAIN_SERVICE = "platform"

# 409 → ABORTED: our 409s are conflicts with the resource's current state (a concurrent change,
# an idempotency key in flight, a taken name), which ABORTED describes ("retry at a higher level");
# ALREADY_EXISTS is narrower (creation only), so it maps back to 409 but is never produced.
_GRPC_CODE_BY_HTTP: dict[int, grpc.StatusCode] = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    422: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
    409: grpc.StatusCode.ABORTED,
    412: grpc.StatusCode.FAILED_PRECONDITION,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
    503: grpc.StatusCode.UNAVAILABLE,
    504: grpc.StatusCode.DEADLINE_EXCEEDED,
}

# Fallback when a status carries no ErrorInfo (transport failures, other servers' errors).
_HTTP_BY_GRPC_CODE: dict[grpc.StatusCode, tuple[int, str]] = {
    grpc.StatusCode.INVALID_ARGUMENT: (400, "BAD_REQUEST"),
    grpc.StatusCode.OUT_OF_RANGE: (400, "BAD_REQUEST"),
    grpc.StatusCode.UNAUTHENTICATED: (401, "UNAUTHORIZED"),
    grpc.StatusCode.PERMISSION_DENIED: (403, "FORBIDDEN"),
    grpc.StatusCode.NOT_FOUND: (404, "NOT_FOUND"),
    grpc.StatusCode.ALREADY_EXISTS: (409, "CONFLICT"),
    grpc.StatusCode.ABORTED: (409, "CONFLICT"),
    grpc.StatusCode.FAILED_PRECONDITION: (412, "PRECONDITION_FAILED"),
    grpc.StatusCode.RESOURCE_EXHAUSTED: (429, "RATE_LIMITED"),
    grpc.StatusCode.UNAVAILABLE: (503, "SERVICE_UNAVAILABLE"),
    grpc.StatusCode.DEADLINE_EXCEEDED: (504, "GATEWAY_TIMEOUT"),
}
_INTERNAL = (500, "INTERNAL_ERROR")


def grpc_code_for(http_status: int) -> grpc.StatusCode:
    """The gRPC status code for an HTTP status (INTERNAL for anything unlisted)."""
    return _GRPC_CODE_BY_HTTP.get(http_status, grpc.StatusCode.INTERNAL)


def http_status_for(code: grpc.StatusCode) -> int:
    """The HTTP status for a gRPC status code (500 for anything unlisted)."""
    return _HTTP_BY_GRPC_CODE.get(code, _INTERNAL)[0]


def _item_detail(item: ErrorItem, language: str) -> str:
    return item.detail or message_for(item.code, language, item.params)[1]


def _error_info(error: ApiError, service: str) -> error_details_pb2.ErrorInfo:
    first = error.items[0]
    metadata = {"httpStatus": str(error.status)}
    if first.pointer:
        metadata["pointer"] = first.pointer
    if first.parameter:
        metadata["parameter"] = first.parameter
    for name, value in first.params.items():
        metadata[f"param.{name}"] = str(value)
    return error_details_pb2.ErrorInfo(reason=error.code, domain=f"parovoz.{service}", metadata=metadata)


def status_proto(error: ApiError, *, service: str | None = None) -> status_pb2.Status:
    """`google.rpc.Status` for `error`; the domain service defaults to the one serving the call."""
    language = context.language.get()
    service = service or serving_service.get() or DEFAULT_DOMAIN_SERVICE
    first = error.items[0]
    status = status_pb2.Status(
        code=grpc_code_for(error.status).value[0],
        # the developer-facing message stays English whatever the caller's language
        message=f"{error.code}: {_item_detail(first, 'en')}",
    )
    status.details.add().Pack(_error_info(error, service))
    status.details.add().Pack(
        error_details_pb2.LocalizedMessage(locale=language, message=_item_detail(first, language))
    )
    if len(error.items) > 1 or first.pointer or first.parameter:
        violations = [
            error_details_pb2.BadRequest.FieldViolation(
                # a JSON pointer starts with "/", a query parameter name never does
                field=item.pointer or item.parameter or "",
                reason=item.code,
                description=_item_detail(item, "en"),
                localized_message=error_details_pb2.LocalizedMessage(
                    locale=language, message=_item_detail(item, language)
                ),
            )
            for item in error.items
        ]
        status.details.add().Pack(error_details_pb2.BadRequest(field_violations=violations))
    retry_after = error.headers.get("Retry-After")
    if retry_after and retry_after.isdigit():
        status.details.add().Pack(
            error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=int(retry_after)))
        )
    return status


def rich_status(error: ApiError, *, service: str | None = None) -> grpc.Status:
    """`error` as a `grpc.Status` whose trailer carries the `google.rpc.Status` details."""
    return rpc_status.to_status(status_proto(error, service=service))


status_for = rich_status  # the name docs/DESIGN.md uses


async def abort(context_: grpc.aio.ServicerContext, error: ApiError) -> NoReturn:
    """End the current call with `error` as a rich status (raises, like `context.abort`)."""
    status = rich_status(error)
    await context_.abort(status.code, status.details, trailing_metadata=status.trailing_metadata)
    raise AssertionError("context.abort returned")  # pragma: no cover - abort always raises


def _details_of(exc: grpc.aio.AioRpcError) -> status_pb2.Status | None:
    for key, value in exc.trailing_metadata() or ():
        if key == DETAILS_KEY and isinstance(value, bytes):
            try:
                return status_pb2.Status.FromString(value)
            except Exception:  # malformed details from a foreign server: use the code alone
                return None
    return None


def _unpack(status: status_pb2.Status) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for kind in (
        error_details_pb2.ErrorInfo,
        error_details_pb2.LocalizedMessage,
        error_details_pb2.BadRequest,
        error_details_pb2.RetryInfo,
    ):
        for detail in status.details:
            if detail.Is(kind.DESCRIPTOR):
                message = kind()
                detail.Unpack(message)
                found[kind.DESCRIPTOR.name] = message
                break
    return found


def _violation_item(violation: error_details_pb2.BadRequest.FieldViolation, code: str) -> ErrorItem:
    is_pointer = violation.field.startswith("/")
    return ErrorItem(
        code=violation.reason or code,
        pointer=violation.field if is_pointer else None,
        parameter=violation.field if violation.field and not is_pointer else None,
        detail=violation.localized_message.message or violation.description or None,
    )


def api_error_from(exc: grpc.aio.AioRpcError, *, service: str | None = None) -> ApiError:
    """The ApiError a failed call stands for; `service` names the peer in transport errors."""
    code = exc.code()
    fallback_status, fallback_code = _HTTP_BY_GRPC_CODE.get(code, _INTERNAL)
    status = _details_of(exc)
    details = _unpack(status) if status is not None else {}
    info: error_details_pb2.ErrorInfo | None = details.get("ErrorInfo")
    if info is None or not info.reason:
        params = {"service": service or "upstream"} if fallback_status in (503, 504) else None
        return ApiError(fallback_status, fallback_code, params=params)
    meta = dict(info.metadata)
    http_status = int(meta["httpStatus"]) if meta.get("httpStatus", "").isdigit() else fallback_status
    params = {name[len("param.") :]: value for name, value in meta.items() if name.startswith("param.")}
    localized: error_details_pb2.LocalizedMessage | None = details.get("LocalizedMessage")
    headers: dict[str, str] = {}
    retry: error_details_pb2.RetryInfo | None = details.get("RetryInfo")
    if retry is not None:
        headers["Retry-After"] = str(retry.retry_delay.seconds)
    bad_request: error_details_pb2.BadRequest | None = details.get("BadRequest")
    items = None
    if bad_request is not None and len(bad_request.field_violations) > 1:
        items = [_violation_item(v, info.reason) for v in bad_request.field_violations]
    return ApiError(
        http_status,
        info.reason,
        pointer=meta.get("pointer"),
        parameter=meta.get("parameter"),
        params=params,
        # the callee already rendered the detail in the caller's language; the code may be
        # unknown to this process's message catalogue, so keep the text
        detail=localized.message if localized is not None and localized.message else None,
        items=items,
        headers=headers,
    )
