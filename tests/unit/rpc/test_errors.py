"""ApiError ⇄ gRPC status mapping and the google.rpc.Status details, without a network."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from parovoz.chassis import context
from parovoz.chassis.errors import ApiError, ErrorItem, too_many_requests
from parovoz.chassis.rpc.errors import (
    DETAILS_KEY,
    api_error_from,
    grpc_code_for,
    http_status_for,
    rich_status,
)
from parovoz.chassis.rpc.metadata import serving_service


@pytest.mark.parametrize(
    ("http", "code"),
    [
        (400, grpc.StatusCode.INVALID_ARGUMENT),
        (422, grpc.StatusCode.INVALID_ARGUMENT),
        (401, grpc.StatusCode.UNAUTHENTICATED),
        (403, grpc.StatusCode.PERMISSION_DENIED),
        (404, grpc.StatusCode.NOT_FOUND),
        (409, grpc.StatusCode.ABORTED),
        (429, grpc.StatusCode.RESOURCE_EXHAUSTED),
        (503, grpc.StatusCode.UNAVAILABLE),
        (504, grpc.StatusCode.DEADLINE_EXCEEDED),
        (500, grpc.StatusCode.INTERNAL),
        (418, grpc.StatusCode.INTERNAL),
    ],
)
def test_http_to_grpc_code(http: int, code: grpc.StatusCode) -> None:
    assert grpc_code_for(http) is code


@pytest.mark.parametrize(
    ("code", "http"),
    [
        (grpc.StatusCode.INVALID_ARGUMENT, 400),
        (grpc.StatusCode.UNAUTHENTICATED, 401),
        (grpc.StatusCode.PERMISSION_DENIED, 403),
        (grpc.StatusCode.NOT_FOUND, 404),
        (grpc.StatusCode.ALREADY_EXISTS, 409),
        (grpc.StatusCode.ABORTED, 409),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, 429),
        (grpc.StatusCode.UNAVAILABLE, 503),
        (grpc.StatusCode.DEADLINE_EXCEEDED, 504),
        (grpc.StatusCode.UNKNOWN, 500),
        (grpc.StatusCode.UNIMPLEMENTED, 500),
    ],
)
def test_grpc_code_to_http(code: grpc.StatusCode, http: int) -> None:
    assert http_status_for(code) == http


def as_rpc_error(status: grpc.Status) -> grpc.aio.AioRpcError:
    """What the client would raise for a call the server ended with `status`."""
    return grpc.aio.AioRpcError(
        status.code, grpc.aio.Metadata(), grpc.aio.Metadata(*status.trailing_metadata), status.details
    )


def unpack(status: grpc.Status, kind: type) -> object:
    (raw,) = [v for k, v in status.trailing_metadata if k == DETAILS_KEY]
    for any_ in status_pb2.Status.FromString(raw).details:
        if any_.Is(kind.DESCRIPTOR):
            message = kind()
            any_.Unpack(message)
            return message
    raise AssertionError(f"no {kind.DESCRIPTOR.name} in the status")


def test_rich_status_carries_error_info_and_localized_message() -> None:
    token = context.language.set("en")
    try:
        status = rich_status(ApiError(404, "NOT_FOUND", pointer="/data/id"), service="catalog")
    finally:
        context.language.reset(token)
    assert status.code is grpc.StatusCode.NOT_FOUND
    info = unpack(status, error_details_pb2.ErrorInfo)
    assert isinstance(info, error_details_pb2.ErrorInfo)
    assert info.reason == "NOT_FOUND" and info.domain == "parovoz.catalog"
    assert dict(info.metadata) == {"httpStatus": "404", "pointer": "/data/id"}
    localized = unpack(status, error_details_pb2.LocalizedMessage)
    assert isinstance(localized, error_details_pb2.LocalizedMessage)
    assert (localized.locale, localized.message) == ("en", "The requested resource was not found.")


def test_domain_defaults_to_the_serving_service() -> None:
    token = serving_service.set("library")
    try:
        status = rich_status(ApiError(403, "FORBIDDEN"))
    finally:
        serving_service.reset(token)
    info = unpack(status, error_details_pb2.ErrorInfo)
    assert isinstance(info, error_details_pb2.ErrorInfo)
    assert info.domain == "parovoz.library"


def test_round_trip_keeps_status_code_params_and_pointer() -> None:
    error = ApiError(422, "VALIDATION_FAILED", pointer="/data/attributes/email", params={"max": 5})
    back = api_error_from(as_rpc_error(rich_status(error)))
    assert (back.status, back.code) == (422, "VALIDATION_FAILED")
    assert back.items[0].pointer == "/data/attributes/email"
    assert back.items[0].params == {"max": "5"}
    assert back.items[0].detail == "Поле заполнено неверно."  # the default language, ru


def test_round_trip_keeps_every_item_of_a_validation_error() -> None:
    items = [
        ErrorItem("VALIDATION_FAILED", pointer="/data/attributes/email", detail="bad email"),
        ErrorItem("INVALID_PARAMETER", parameter="page", params={"name": "page"}),
    ]
    back = api_error_from(as_rpc_error(rich_status(ApiError(422, "VALIDATION_FAILED", items=items))))
    assert [(i.code, i.pointer, i.parameter) for i in back.items] == [
        ("VALIDATION_FAILED", "/data/attributes/email", None),
        ("INVALID_PARAMETER", None, "page"),
    ]
    assert back.items[0].detail == "bad email"
    assert back.items[1].detail == "Параметр page задан неверно."


def test_round_trip_keeps_retry_after() -> None:
    back = api_error_from(as_rpc_error(rich_status(too_many_requests(7))))
    assert (back.status, back.code) == (429, "RATE_LIMITED")
    assert back.headers == {"Retry-After": "7"}


@pytest.mark.parametrize(
    ("code", "status", "error_code"),
    [
        (grpc.StatusCode.UNAVAILABLE, 503, "SERVICE_UNAVAILABLE"),
        (grpc.StatusCode.DEADLINE_EXCEEDED, 504, "GATEWAY_TIMEOUT"),
        (grpc.StatusCode.NOT_FOUND, 404, "NOT_FOUND"),
        (grpc.StatusCode.UNKNOWN, 500, "INTERNAL_ERROR"),
    ],
)
def test_status_without_details_falls_back_by_code(
    code: grpc.StatusCode, status: int, error_code: str
) -> None:
    exc = grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), "no details")
    back = api_error_from(exc, service="social")
    assert (back.status, back.code) == (status, error_code)
    if status in (503, 504):
        assert back.items[0].params == {"service": "social"}


def test_malformed_details_fall_back_by_code() -> None:
    trailing = grpc.aio.Metadata((DETAILS_KEY, b"\xff\xff not a status"))
    exc = grpc.aio.AioRpcError(grpc.StatusCode.PERMISSION_DENIED, grpc.aio.Metadata(), trailing, "x")
    back = api_error_from(exc)
    assert (back.status, back.code) == (403, "FORBIDDEN")
