"""Calls over loopback gRPC through the chassis server and client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from prometheus_client import REGISTRY

from parovoz.chassis import context
from parovoz.chassis.config import Settings
from parovoz.chassis.rpc import api_error_from, check_health, open_channel, wait_ready
from parovoz.chassis.security.tokens import TokenIssuer
from parovoz.protos.platform.auth.v1 import auth_pb2, auth_pb2_grpc
from tests.integration.rpc.conftest import (
    AUTH_SERVICE,
    LEAKED_SECRET,
    TEST_KEY,
    RecordingAuthServicer,
    library_credentials,
)

GET_USER = f"{AUTH_SERVICE}/GetUser"


@pytest.fixture
async def channel(auth_address: str) -> AsyncIterator[grpc.aio.Channel]:
    ch = open_channel(
        auth_address,
        Settings(),
        caller="library",
        idempotent_methods=[GET_USER],
        credentials=library_credentials(),
    )
    await wait_ready(ch, 5)
    yield ch
    await ch.close()


def details_of(exc: grpc.aio.AioRpcError) -> dict[str, object]:
    (raw,) = [v for k, v in exc.trailing_metadata() if k == "grpc-status-details-bin"]
    status = status_pb2.Status.FromString(raw)
    found: dict[str, object] = {}
    for kind in (error_details_pb2.ErrorInfo, error_details_pb2.LocalizedMessage):
        for any_ in status.details:
            if any_.Is(kind.DESCRIPTOR):
                message = kind()
                any_.Unpack(message)
                found[kind.DESCRIPTOR.name] = message
    return found


async def test_api_error_arrives_as_not_found_with_error_info(channel: grpc.aio.Channel) -> None:
    stub = auth_pb2_grpc.AuthServiceStub(channel)
    token = context.language.set("en")
    try:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.GetUser(auth_pb2.GetUserRequest(user_id="missing"))
    finally:
        context.language.reset(token)
    exc = caught.value
    assert exc.code() is grpc.StatusCode.NOT_FOUND
    details = details_of(exc)
    info = details["ErrorInfo"]
    assert isinstance(info, error_details_pb2.ErrorInfo)
    assert (info.reason, info.domain) == ("USER_NOT_FOUND", "parovoz.auth")
    localized = details["LocalizedMessage"]
    assert isinstance(localized, error_details_pb2.LocalizedMessage)
    assert (localized.locale, localized.message) == ("en", "User missing was not found.")

    error = api_error_from(exc)
    assert (error.status, error.code) == (404, "USER_NOT_FOUND")
    assert error.items[0].params == {"userId": "missing"}
    assert error.items[0].detail == "User missing was not found."


async def test_localized_message_follows_callers_language(channel: grpc.aio.Channel) -> None:
    stub = auth_pb2_grpc.AuthServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.GetUser(auth_pb2.GetUserRequest(user_id="missing"))  # default language: ru
    assert api_error_from(caught.value).items[0].detail == "Пользователь missing не найден."


async def test_unexpected_exception_is_internal_without_internals(channel: grpc.aio.Channel) -> None:
    stub = auth_pb2_grpc.AuthServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.GetUser(auth_pb2.GetUserRequest(user_id="boom"))
    exc = caught.value
    assert exc.code() is grpc.StatusCode.INTERNAL
    visible = f"{exc.details()} {exc.trailing_metadata()!r} {exc.debug_error_string()}"
    assert "hunter2" not in visible and LEAKED_SECRET not in visible
    assert "RuntimeError" not in visible
    error = api_error_from(exc)
    assert (error.status, error.code) == (500, "INTERNAL_ERROR")


async def test_context_travels_as_metadata(channel: grpc.aio.Channel) -> None:
    stub = auth_pb2_grpc.AuthServiceStub(channel)
    user_token = TokenIssuer(TEST_KEY).issue("user-1", ["user"], "session-1", 600).token
    tokens = [
        (context.request_id, context.request_id.set("req-123")),
        (context.correlation_id, context.correlation_id.set("corr-456")),
        (context.user_token, context.user_token.set(user_token)),
        (context.language, context.language.set("en")),
    ]
    try:
        reply = await stub.ValidateToken(auth_pb2.ValidateTokenRequest(token="t"))
    finally:
        for var, token in reversed(tokens):
            var.reset(token)
    assert reply.session_id == "req-123"
    assert reply.token_id == "corr-456"
    assert reply.user_id == user_token
    assert list(reply.roles) == ["library", "en"]  # the caller: the name its service token proves


async def test_server_generates_request_id_and_no_user_without_context(channel: grpc.aio.Channel) -> None:
    reply = await auth_pb2_grpc.AuthServiceStub(channel).ValidateToken(
        auth_pb2.ValidateTokenRequest(token="t")
    )
    assert reply.user_id == ""
    assert len(reply.session_id) == 36  # a fresh uuid
    assert reply.token_id == reply.session_id  # correlation falls back to the request id


async def test_default_deadline_applies(auth_address: str) -> None:
    ch = open_channel(
        auth_address, Settings(), caller="library", default_timeout=0.3, credentials=library_credentials()
    )
    try:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await auth_pb2_grpc.AuthServiceStub(ch).GetUser(auth_pb2.GetUserRequest(user_id="slow"))
    finally:
        await ch.close()
    assert caught.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED
    error = api_error_from(caught.value, service="auth")
    assert (error.status, error.code) == (504, "GATEWAY_TIMEOUT")
    assert error.items[0].params == {"service": "auth"}


async def test_explicit_timeout_overrides_default(auth_address: str) -> None:
    ch = open_channel(
        auth_address, Settings(), caller="library", default_timeout=0.1, credentials=library_credentials()
    )
    try:
        reply = await auth_pb2_grpc.AuthServiceStub(ch).GetUser(
            auth_pb2.GetUserRequest(user_id="u1"), timeout=5
        )
    finally:
        await ch.close()
    assert reply.user.username == "user-u1"


async def test_health_reports_serving(channel: grpc.aio.Channel) -> None:
    assert await check_health(channel) is True
    assert await check_health(channel, AUTH_SERVICE) is True
    assert await check_health(channel, "platform.nope.v1.NopeService") is False


async def test_idempotent_method_is_retried_after_unavailable(
    channel: grpc.aio.Channel, servicer: RecordingAuthServicer
) -> None:
    reply = await auth_pb2_grpc.AuthServiceStub(channel).GetUser(auth_pb2.GetUserRequest(user_id="flaky"))
    assert reply.user.id == "flaky"
    assert servicer.calls["GetUser:flaky"] == 2


async def test_non_idempotent_method_is_not_retried(
    channel: grpc.aio.Channel, servicer: RecordingAuthServicer
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await auth_pb2_grpc.AuthServiceStub(channel).ValidateToken(
            auth_pb2.ValidateTokenRequest(token="flaky")
        )
    assert caught.value.code() is grpc.StatusCode.UNAVAILABLE
    assert servicer.calls["ValidateToken:flaky"] == 1
    error = api_error_from(caught.value, service="auth")
    assert (error.status, error.code) == (503, "SERVICE_UNAVAILABLE")


async def test_handled_calls_are_measured(channel: grpc.aio.Channel) -> None:
    labels = {"service": "auth", "method": f"/{GET_USER}", "code": "NOT_FOUND"}
    before = REGISTRY.get_sample_value("parovoz_grpc_server_handled_seconds_count", labels) or 0.0
    with pytest.raises(grpc.aio.AioRpcError):
        await auth_pb2_grpc.AuthServiceStub(channel).GetUser(auth_pb2.GetUserRequest(user_id="missing"))
    after = REGISTRY.get_sample_value("parovoz_grpc_server_handled_seconds_count", labels)
    assert after == before + 1


async def test_crashes_and_expired_deadlines_are_measured_with_their_codes(auth_address: str) -> None:
    def count(code: str) -> float:
        labels = {"service": "auth", "method": f"/{GET_USER}", "code": code}
        return REGISTRY.get_sample_value("parovoz_grpc_server_handled_seconds_count", labels) or 0.0

    internal_before, expired_before = count("INTERNAL"), count("DEADLINE_EXCEEDED")
    ch = open_channel(
        auth_address, Settings(), caller="library", default_timeout=0.2, credentials=library_credentials()
    )
    stub = auth_pb2_grpc.AuthServiceStub(ch)
    try:
        for user_id in ("boom", "slow"):
            with pytest.raises(grpc.aio.AioRpcError):
                await stub.GetUser(auth_pb2.GetUserRequest(user_id=user_id))
        # the server notices the expired deadline a moment after the client does
        for _ in range(50):
            if count("DEADLINE_EXCEEDED") > expired_before:
                break
            await asyncio.sleep(0.02)
    finally:
        await ch.close()
    assert count("INTERNAL") == internal_before + 1
    assert count("DEADLINE_EXCEEDED") == expired_before + 1
