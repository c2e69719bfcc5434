"""AuthService over a real loopback gRPC server: ValidateToken, GetUser, GetJwks."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator

import grpc
import pytest

from parovoz.chassis.rpc.errors import api_error_from
from parovoz.chassis.rpc.server import bind, create_server
from parovoz.protos.platform.auth.v1 import auth_pb2, auth_pb2_grpc
from parovoz.services.auth import SPEC
from tests.integration.auth.conftest import AuthHarness, attributes
from tests.service_identity import auth_service_token, service_channel


@pytest.fixture
async def stub(auth: AuthHarness) -> AsyncIterator[auth_pb2_grpc.AuthServiceStub]:
    server, _health = create_server(
        SPEC.grpc(auth.ctx), auth.ctx.settings, service_name="auth", tokens=auth.ctx.tokens
    )
    port = bind(server, "127.0.0.1", 0)
    await server.start()
    channel = service_channel(f"127.0.0.1:{port}", await auth_service_token(auth.ctx))
    yield auth_pb2_grpc.AuthServiceStub(channel)
    await channel.close()
    await server.stop(grace=None)


async def _failure(call: object) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call  # type: ignore[misc]
    return caught.value.code(), api_error_from(caught.value).code


async def _tokens(auth: AuthHarness) -> tuple[str, dict]:
    created = await auth.register("ann@example.com", "ann")
    login = await auth.login("ann")
    return created.json()["data"]["id"], login.json()["data"]


async def test_validate_token_returns_the_claims(
    auth: AuthHarness, stub: auth_pb2_grpc.AuthServiceStub
) -> None:
    user_id, data = await _tokens(auth)
    reply = await stub.ValidateToken(
        auth_pb2.ValidateTokenRequest(token=data["attributes"]["accessToken"]), timeout=5
    )
    assert reply.user_id == user_id and list(reply.roles) == ["user"]
    assert reply.session_id == data["id"] and reply.token_id
    assert reply.expires_at.seconds > 0


async def test_validate_token_refuses_bad_and_revoked_tokens(
    auth: AuthHarness, stub: auth_pb2_grpc.AuthServiceStub
) -> None:
    _, data = await _tokens(auth)
    token = data["attributes"]["accessToken"]
    head, body, signature = token.split(".")
    tampered = f"{head}.{body}.{signature[:-4]}AAAA"
    for bad in ("", "not-a-jwt", tampered):
        assert await _failure(stub.ValidateToken(auth_pb2.ValidateTokenRequest(token=bad), timeout=5)) == (
            grpc.StatusCode.UNAUTHENTICATED,
            "INVALID_TOKEN",
        )
    # The token itself is still unexpired and well signed, but its session has ended.
    logout = await auth.client.post(
        "/api/v1/auth/logout", json={"refreshToken": data["attributes"]["refreshToken"]}
    )
    assert logout.status_code == 204
    assert await _failure(stub.ValidateToken(auth_pb2.ValidateTokenRequest(token=token), timeout=5)) == (
        grpc.StatusCode.UNAUTHENTICATED,
        "INVALID_TOKEN",
    )


async def test_validate_token_refuses_tokens_of_a_session_revoked_by_reuse(
    auth: AuthHarness, stub: auth_pb2_grpc.AuthServiceStub
) -> None:
    _, data = await _tokens(auth)
    first_refresh = data["attributes"]["refreshToken"]
    rotated = attributes(await auth.refresh(first_refresh))
    assert (await stub.ValidateToken(auth_pb2.ValidateTokenRequest(token=rotated["accessToken"]))).user_id
    assert (await auth.refresh(first_refresh)).status_code == 401  # reuse: session revoked
    code, reason = await _failure(
        stub.ValidateToken(auth_pb2.ValidateTokenRequest(token=rotated["accessToken"]), timeout=5)
    )
    assert (code, reason) == (grpc.StatusCode.UNAUTHENTICATED, "INVALID_TOKEN")


async def test_get_user(auth: AuthHarness, stub: auth_pb2_grpc.AuthServiceStub) -> None:
    user_id, _ = await _tokens(auth)
    user = (await stub.GetUser(auth_pb2.GetUserRequest(user_id=user_id), timeout=5)).user
    assert (user.id, user.email, user.username, list(user.roles)) == (
        user_id,
        "ann@example.com",
        "ann",
        ["user"],
    )
    assert user.status == auth_pb2.USER_STATUS_ACTIVE and not user.email_verified
    assert user.created_at.seconds > 0
    missing = stub.GetUser(auth_pb2.GetUserRequest(user_id=str(uuid.uuid4())), timeout=5)
    assert await _failure(missing) == (grpc.StatusCode.NOT_FOUND, "USER_NOT_FOUND")
    malformed = stub.GetUser(auth_pb2.GetUserRequest(user_id="42"), timeout=5)
    assert await _failure(malformed) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_PARAMETER")


async def test_get_jwks_matches_the_rest_document(
    auth: AuthHarness, stub: auth_pb2_grpc.AuthServiceStub
) -> None:
    reply = await stub.GetJwks(auth_pb2.GetJwksRequest(), timeout=5)
    rest = (await auth.client.get("/api/v1/auth/jwks")).json()
    assert json.loads(reply.jwks_json) == rest and len(rest["keys"]) == 1
