"""Service identity in the embedded platform: each service calls the others under its own name, with
a token bought from Auth with the secret the platform made for this run (Auth signs its own)."""

from __future__ import annotations

import uuid

import grpc
import pytest

from parovoz.chassis.rpc.errors import api_error_from
from parovoz.protos.platform.auth.v1 import auth_pb2, auth_pb2_grpc
from parovoz.runtime.embedded import EmbeddedPlatform


def _host_channel(platform: EmbeddedPlatform, service: str) -> grpc.aio.Channel:
    (host,) = [h for h in platform.hosts if h.spec.name == service]
    return host.ctx.channel("auth")


@pytest.mark.parametrize("service", ["account", "auth"])
async def test_each_service_calls_auth_with_its_own_token(
    embedded_platform: EmbeddedPlatform, service: str
) -> None:
    stub = auth_pb2_grpc.AuthServiceStub(_host_channel(embedded_platform, service))
    # authenticated: the answer is about the user, not about the caller
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.GetUser(auth_pb2.GetUserRequest(user_id=str(uuid.uuid4())), timeout=5)
    assert caught.value.code() is grpc.StatusCode.NOT_FOUND, api_error_from(caught.value).code


async def test_the_platforms_own_channels_carry_no_identity(embedded_platform: EmbeddedPlatform) -> None:
    stub = auth_pb2_grpc.AuthServiceStub(embedded_platform._channels["auth"])
    assert (await stub.GetJwks(auth_pb2.GetJwksRequest(), timeout=5)).jwks_json  # public
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.GetUser(auth_pb2.GetUserRequest(user_id=str(uuid.uuid4())), timeout=5)
    assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED
    assert api_error_from(caught.value).code == "SERVICE_TOKEN_MISSING"


async def test_the_generated_secrets_are_the_only_way_in(embedded_platform: EmbeddedPlatform) -> None:
    stub = auth_pb2_grpc.AuthServiceStub(embedded_platform._channels["auth"])
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.IssueServiceToken(
            auth_pb2.IssueServiceTokenRequest(service="account", secret="guess"), timeout=5
        )
    assert api_error_from(caught.value).code == "SERVICE_CREDENTIALS_INVALID"
