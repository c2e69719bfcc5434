"""Service identity over real loopback gRPC: the server checks every call's service token, shows the
servicer the calling service and the user it acts for, and keeps restricted methods to their callers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator

import grpc
import jwt
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from parovoz.chassis import context
from parovoz.chassis.config import Settings
from parovoz.chassis.rpc import check_health, open_channel
from parovoz.chassis.rpc.errors import api_error_from
from parovoz.chassis.rpc.identity import allowed_callers, calling_service, calling_user, public_method
from parovoz.chassis.security.keys import SigningKey
from parovoz.chassis.security.service_credentials import ServiceCredentials
from parovoz.chassis.security.service_tokens import SERVICE_AUDIENCE, issue_service_token
from parovoz.chassis.security.tokens import IssuedToken, TokenIssuer
from parovoz.protos.platform.auth.v1 import auth_pb2, auth_pb2_grpc
from tests.integration.rpc.conftest import TEST_KEY, start_server
from tests.service_identity import service_channel, service_metadata, service_token

OTHER_KEY = SigningKey.generate()


class IdentityServicer(auth_pb2_grpc.AuthServiceServicer):
    """GetUser reports who called (any service); ExportUserData is for "admin" only; GetJwks is public."""

    async def GetUser(self, request, grpc_context):  # type: ignore[no-untyped-def]
        service, user = calling_service.get(), calling_user.get()
        return auth_pb2.GetUserResponse(
            user=auth_pb2.User(
                id=user.user_id if user else "",
                username=service.name if service else "",
                roles=sorted(user.roles) if user else [],
            )
        )

    @allowed_callers("admin")
    async def ExportUserData(self, request, grpc_context):  # type: ignore[no-untyped-def]
        service = calling_service.get()
        return auth_pb2.ExportUserDataResponse(data_json=json.dumps({"caller": service and service.name}))

    @public_method
    async def GetJwks(self, request, grpc_context):  # type: ignore[no-untyped-def]
        return auth_pb2.GetJwksResponse(jwks_json=json.dumps({"caller": calling_service.get()}))


@pytest.fixture
async def address() -> AsyncIterator[str]:
    server, port = await start_server(IdentityServicer(), Settings())
    yield f"127.0.0.1:{port}"
    await server.stop(grace=None)


@pytest.fixture
async def plain(address: str) -> AsyncIterator[auth_pb2_grpc.AuthServiceStub]:
    """A stub on a channel without credentials: tests put the metadata on each call."""
    channel = grpc.aio.insecure_channel(address)
    yield auth_pb2_grpc.AuthServiceStub(channel)
    await channel.close()


def reason(error: grpc.aio.AioRpcError) -> str:
    status = rpc_status.from_call(error)
    assert status is not None, "no rich status"
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info.reason
    raise AssertionError("no ErrorInfo")


async def refused(call: object) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call  # type: ignore[misc]
    return caught.value.code(), reason(caught.value)


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _service_claims(**overrides: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": "parovoz-auth",
        "aud": SERVICE_AUDIENCE,
        "sub": "service:account",
        "token_use": "service",
        "jti": "j-1",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
    }
    claims.update(overrides)
    return claims


def forged_tokens() -> dict[str, str]:
    claims = _service_claims()
    signing_input = f"{_b64({'alg': 'HS256', 'kid': TEST_KEY.kid})}.{_b64(claims)}"
    # key confusion: HMAC keyed with the public key an attacker can download
    mac = hmac.new(TEST_KEY.public_pem(), signing_input.encode(), hashlib.sha256).digest()
    return {
        "other key": issue_service_token(OTHER_KEY, "account").token,
        "alg none": f"{_b64({'alg': 'none', 'kid': TEST_KEY.kid})}.{_b64(claims)}.",
        "alg none with a signature": f"{_b64({'alg': 'none', 'kid': TEST_KEY.kid})}.{_b64(claims)}.AAAA",
        "HS256 with the public key": f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}",
        "expired": issue_service_token(TEST_KEY, "account", now=time.time() - 3600).token,
        "wrong audience": jwt.encode(
            _service_claims(aud="parovoz"), TEST_KEY.private_key, "RS256", headers={"kid": TEST_KEY.kid}
        ),
        "wrong issuer": jwt.encode(
            _service_claims(iss="someone"), TEST_KEY.private_key, "RS256", headers={"kid": TEST_KEY.kid}
        ),
        "not a service subject": jwt.encode(
            _service_claims(sub="account"), TEST_KEY.private_key, "RS256", headers={"kid": TEST_KEY.kid}
        ),
        "a user's access token": TokenIssuer(TEST_KEY).issue("user-1", ["admin"], "s-1", 600).token,
        "tampered": service_token(TEST_KEY, "account")[:-6] + "AAAAAA",
        "garbage": "not-a-jwt",
    }


async def test_a_call_without_a_service_token_is_unauthenticated(
    plain: auth_pb2_grpc.AuthServiceStub,
) -> None:
    assert await refused(plain.GetUser(auth_pb2.GetUserRequest(user_id="u"), timeout=5)) == (
        grpc.StatusCode.UNAUTHENTICATED,
        "SERVICE_TOKEN_MISSING",
    )
    # the header naming a caller proves nothing
    assert await refused(
        plain.GetUser(auth_pb2.GetUserRequest(), metadata=(("x-caller-service", "admin"),), timeout=5)
    ) == (grpc.StatusCode.UNAUTHENTICATED, "SERVICE_TOKEN_MISSING")


@pytest.mark.parametrize("kind", sorted(forged_tokens()))
async def test_a_forged_service_token_is_unauthenticated(
    kind: str, plain: auth_pb2_grpc.AuthServiceStub
) -> None:
    token = forged_tokens()[kind]
    code, code_reason = await refused(
        plain.GetUser(auth_pb2.GetUserRequest(), metadata=service_metadata(token), timeout=5)
    )
    assert (code, code_reason) == (grpc.StatusCode.UNAUTHENTICATED, "SERVICE_TOKEN_INVALID"), kind


async def test_other_authorization_schemes_are_refused(plain: auth_pb2_grpc.AuthServiceStub) -> None:
    basic = (("authorization", "Basic YWNjb3VudDpzZWNyZXQ="),)
    assert await refused(plain.GetUser(auth_pb2.GetUserRequest(), metadata=basic, timeout=5)) == (
        grpc.StatusCode.UNAUTHENTICATED,
        "SERVICE_TOKEN_INVALID",
    )


async def test_a_valid_token_reaches_the_servicer_with_the_callers_name(address: str) -> None:
    channel = service_channel(address, service_token(TEST_KEY, "account"), caller="account")
    try:
        reply = await auth_pb2_grpc.AuthServiceStub(channel).GetUser(auth_pb2.GetUserRequest(), timeout=5)
    finally:
        await channel.close()
    assert reply.user.username == "account"
    assert reply.user.id == ""  # acting for nobody


async def test_a_forwarded_user_token_shows_the_user_to_the_servicer(address: str) -> None:
    user_token = TokenIssuer(TEST_KEY).issue("user-7", ["user", "support"], "s-7", 600).token
    channel = service_channel(address, service_token(TEST_KEY, "account"), caller="account")
    reset = context.user_token.set(user_token)  # what the REST layer sets from the request's bearer
    try:
        reply = await auth_pb2_grpc.AuthServiceStub(channel).GetUser(auth_pb2.GetUserRequest(), timeout=5)
    finally:
        context.user_token.reset(reset)
        await channel.close()
    assert (reply.user.id, list(reply.user.roles), reply.user.username) == (
        "user-7",
        ["support", "user"],
        "account",
    )


async def test_a_bad_forwarded_user_token_fails_the_call(plain: auth_pb2_grpc.AuthServiceStub) -> None:
    metadata = (*service_metadata(service_token(TEST_KEY, "account")), ("x-user-token", "forged.user.token"))
    assert await refused(plain.GetUser(auth_pb2.GetUserRequest(), metadata=metadata, timeout=5)) == (
        grpc.StatusCode.UNAUTHENTICATED,
        "INVALID_TOKEN",
    )
    # nor can a service token pass for a user
    metadata = (
        *service_metadata(service_token(TEST_KEY, "account")),
        ("x-user-token", service_token(TEST_KEY)),
    )
    assert await refused(plain.GetUser(auth_pb2.GetUserRequest(), metadata=metadata, timeout=5)) == (
        grpc.StatusCode.UNAUTHENTICATED,
        "INVALID_TOKEN",
    )


async def test_a_method_for_admin_refuses_account_and_serves_admin(
    plain: auth_pb2_grpc.AuthServiceStub,
) -> None:
    request = auth_pb2.ExportUserDataRequest(user_id="u")
    as_account = service_metadata(service_token(TEST_KEY, "account"))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await plain.ExportUserData(request, metadata=(*as_account, ("x-caller-service", "admin")), timeout=5)
    assert (caught.value.code(), reason(caught.value)) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "CALLER_NOT_ALLOWED",
    )
    assert api_error_from(caught.value).items[0].params == {"service": "account"}

    reply = await plain.ExportUserData(
        request, metadata=service_metadata(service_token(TEST_KEY, "admin")), timeout=5
    )
    assert json.loads(reply.data_json) == {"caller": "admin"}


async def test_public_methods_and_health_need_no_token(
    address: str, plain: auth_pb2_grpc.AuthServiceStub
) -> None:
    reply = await plain.GetJwks(auth_pb2.GetJwksRequest(), timeout=5)
    assert json.loads(reply.jwks_json) == {"caller": None}  # no claim of a public call is trusted
    channel = open_channel(address, Settings(), caller="library")
    try:
        assert await check_health(channel) is True
    finally:
        await channel.close()


async def test_a_server_without_keys_refuses_every_non_public_call() -> None:
    from parovoz.chassis.rpc import bind, create_server
    from parovoz.chassis.service import GrpcRegistration

    registration = GrpcRegistration(
        "platform.auth.v1.AuthService", IdentityServicer(), auth_pb2_grpc.add_AuthServiceServicer_to_server
    )
    server, _health = create_server([registration], Settings(), service_name="auth")  # no `tokens`
    port = bind(server, "127.0.0.1", 0)
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    stub = auth_pb2_grpc.AuthServiceStub(channel)
    try:
        token = service_metadata(service_token(TEST_KEY, "admin"))
        assert await refused(stub.GetUser(auth_pb2.GetUserRequest(), metadata=token, timeout=5)) == (
            grpc.StatusCode.UNAUTHENTICATED,
            "SERVICE_TOKEN_INVALID",
        )
        assert (await stub.GetJwks(auth_pb2.GetJwksRequest(), timeout=5)).jwks_json
    finally:
        await channel.close()
        await server.stop(grace=None)


async def test_a_caller_that_cannot_get_its_token_fails_with_a_clear_status(address: str) -> None:
    async def auth_down() -> IssuedToken:
        raise ConnectionError("auth unreachable")

    channel = open_channel(
        address, Settings(), caller="account", credentials=ServiceCredentials("account", auth_down)
    )
    try:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await auth_pb2_grpc.AuthServiceStub(channel).GetUser(auth_pb2.GetUserRequest(), timeout=5)
        # health checks do not need a token, so they still answer
        assert await check_health(channel) is True
    finally:
        await channel.close()
    assert (caught.value.code(), reason(caught.value)) == (
        grpc.StatusCode.UNAVAILABLE,
        "SERVICE_TOKEN_UNAVAILABLE",
    )
    assert api_error_from(caught.value).status == 503
