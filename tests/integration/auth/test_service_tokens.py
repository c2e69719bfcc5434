"""Auth's `IssueServiceToken` over a real loopback gRPC server: a service's secret buys a token
signed with Auth's current key, which its gRPC methods (and any service holding the JWKS) accept."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable

import grpc
import pytest

from parovoz.chassis.rpc.errors import api_error_from
from parovoz.chassis.rpc.server import bind, create_server
from parovoz.chassis.security.service_credentials import credential_line, new_service_secret
from parovoz.chassis.security.service_tokens import ServiceTokenVerifier
from parovoz.chassis.security.tokens import JwksTokenVerifier
from parovoz.protos.platform.auth.v1 import auth_pb2, auth_pb2_grpc
from parovoz.services.auth import SPEC
from parovoz.services.auth.wiring import components
from tests.integration.auth.conftest import AuthHarness, BuildAuth
from tests.service_identity import auth_service_token, service_metadata

SECRET = new_service_secret()


@pytest.fixture
async def served() -> AsyncIterator[Callable[[AuthHarness], object]]:
    servers: list[grpc.aio.Server] = []
    channels: list[grpc.aio.Channel] = []

    async def serve(auth: AuthHarness) -> auth_pb2_grpc.AuthServiceStub:
        server, _health = create_server(
            SPEC.grpc(auth.ctx), auth.ctx.settings, service_name="auth", tokens=auth.ctx.tokens
        )
        port = bind(server, "127.0.0.1", 0)
        await server.start()
        servers.append(server)
        channels.append(grpc.aio.insecure_channel(f"127.0.0.1:{port}"))  # no credentials of its own
        return auth_pb2_grpc.AuthServiceStub(channels[-1])

    yield serve
    for channel in channels:
        await channel.close()
    for server in servers:
        await server.stop(grace=None)


async def failure(call: object) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call  # type: ignore[misc]
    return caught.value.code(), api_error_from(caught.value).code


def issue(service: str, secret: str) -> auth_pb2.IssueServiceTokenRequest:
    return auth_pb2.IssueServiceTokenRequest(service=service, secret=secret)


async def test_the_right_secret_gets_a_token_that_works_on_protected_methods(
    build_auth: BuildAuth, served: Callable[[AuthHarness], object]
) -> None:
    auth = await build_auth(env={"AUTH_SERVICE_CREDENTIALS": credential_line("account", SECRET)})
    stub: auth_pb2_grpc.AuthServiceStub = await served(auth)  # type: ignore[misc]
    user_id = (await auth.register("ann@example.com", "ann")).json()["data"]["id"]

    # without a token only the public methods answer
    assert (await stub.GetJwks(auth_pb2.GetJwksRequest(), timeout=5)).jwks_json
    assert await failure(stub.GetUser(auth_pb2.GetUserRequest(user_id=user_id), timeout=5)) == (
        grpc.StatusCode.UNAUTHENTICATED,
        "SERVICE_TOKEN_MISSING",
    )

    reply = await stub.IssueServiceToken(issue("account", SECRET), timeout=5)
    assert 590 <= reply.expires_at.seconds - time.time() <= 610
    identity = ServiceTokenVerifier(auth.ctx.tokens).verify(reply.token)  # type: ignore[arg-type]
    assert identity.name == "account"
    # another process holding only the published JWK Set accepts it too
    elsewhere = ServiceTokenVerifier(JwksTokenVerifier(components(auth.ctx).keyring.jwks))
    assert (await elsewhere.verify_async(reply.token)).name == "account"

    found = await stub.GetUser(
        auth_pb2.GetUserRequest(user_id=user_id), metadata=service_metadata(reply.token), timeout=5
    )
    assert found.user.username == "ann"


@pytest.mark.parametrize(
    ("service", "secret"),
    [("account", "wrong-secret"), ("account", ""), ("payment", SECRET), ("", SECRET), ("Account", SECRET)],
)
async def test_a_wrong_secret_or_unknown_service_is_unauthenticated(
    build_auth: BuildAuth, served: Callable[[AuthHarness], object], service: str, secret: str
) -> None:
    auth = await build_auth(env={"AUTH_SERVICE_CREDENTIALS": credential_line("account", SECRET)}, start=False)
    stub: auth_pb2_grpc.AuthServiceStub = await served(auth)  # type: ignore[misc]
    assert await failure(stub.IssueServiceToken(issue(service, secret), timeout=5)) == (
        grpc.StatusCode.UNAUTHENTICATED,
        "SERVICE_CREDENTIALS_INVALID",
    )


async def test_no_configured_credentials_issue_nothing(
    build_auth: BuildAuth, served: Callable[[AuthHarness], object]
) -> None:
    stub: auth_pb2_grpc.AuthServiceStub = await served(await build_auth(start=False))  # type: ignore[misc]
    assert await failure(stub.IssueServiceToken(issue("account", SECRET), timeout=5)) == (
        grpc.StatusCode.UNAUTHENTICATED,
        "SERVICE_CREDENTIALS_INVALID",
    )


async def test_issuing_is_rate_limited(
    build_auth: BuildAuth, served: Callable[[AuthHarness], object]
) -> None:
    auth = await build_auth(
        env={
            "AUTH_SERVICE_CREDENTIALS": credential_line("account", SECRET),
            "AUTH_SERVICE_TOKEN_RATE_PER_MIN": "3",
        }
    )
    stub: auth_pb2_grpc.AuthServiceStub = await served(auth)  # type: ignore[misc]
    await stub.IssueServiceToken(issue("account", SECRET), timeout=5)
    for _ in range(2):  # failures count too: guessing is limited like asking
        await failure(stub.IssueServiceToken(issue("account", "guess"), timeout=5))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.IssueServiceToken(issue("account", SECRET), timeout=5)
    assert caught.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    error = api_error_from(caught.value)
    assert error.code == "RATE_LIMITED" and int(error.headers["Retry-After"]) >= 1


async def test_auth_signs_its_own_tokens(
    build_auth: BuildAuth, served: Callable[[AuthHarness], object]
) -> None:
    auth = await build_auth()
    stub: auth_pb2_grpc.AuthServiceStub = await served(auth)  # type: ignore[misc]
    token = await SPEC.service_token_source(auth.ctx)()  # type: ignore[misc]
    assert ServiceTokenVerifier(auth.ctx.tokens).verify(token.token).name == "auth"  # type: ignore[arg-type]
    reply = await stub.GetJwks(auth_pb2.GetJwksRequest(), metadata=service_metadata(token.token), timeout=5)
    assert reply.jwks_json
    # and the tests' helper gets theirs the same way
    assert ServiceTokenVerifier(auth.ctx.tokens).verify(await auth_service_token(auth.ctx)).name == "tests"  # type: ignore[arg-type]


async def test_malformed_credentials_setting_stops_auth(build_auth: BuildAuth) -> None:
    auth = await build_auth(env={"AUTH_SERVICE_CREDENTIALS": "account:not-a-digest"}, start=False)
    with pytest.raises(ValueError, match="PAROVOZ_AUTH_SERVICE_CREDENTIALS"):
        SPEC.grpc(auth.ctx)
