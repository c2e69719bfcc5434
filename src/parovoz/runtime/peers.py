"""Peer wiring shared by both run modes: gRPC channels to peers and the Auth JWKS source."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

import grpc
import orjson

from parovoz.chassis.config import Settings
from parovoz.chassis.rpc.client import open_channel
from parovoz.chassis.security.service_credentials import ServiceCredentials
from parovoz.protos.platform.auth.v1 import auth_pb2, auth_pb2_grpc

# Methods safe to retry: reads only.
IDEMPOTENT_METHODS = (
    "platform.auth.v1.AuthService/ValidateToken",
    "platform.auth.v1.AuthService/GetUser",
    "platform.auth.v1.AuthService/GetJwks",
    "platform.auth.v1.AuthService/ExportUserData",  # a read
    "platform.auth.v1.AuthService/IssueServiceToken",  # no state changes: a retry is just another token
    "platform.account.v1.AccountService/GetAccount",
    "platform.account.v1.AccountService/GetAccounts",
)


def open_channels(
    addresses: dict[str, str],
    settings: Settings,
    *,
    caller: str,
    peers: Iterable[str],
    credentials: ServiceCredentials | None = None,
) -> dict[str, grpc.aio.Channel]:
    """Channels to the named peers (Auth always: every process verifies tokens with its keys).

    With `credentials` every call presents the caller's service token (runtime/identity.py);
    without, only public methods answer (the JWKS, the token issue itself)."""
    names = {"auth", *peers}
    return {
        name: open_channel(
            addresses[name],
            settings,
            caller=caller,
            idempotent_methods=IDEMPOTENT_METHODS,
            credentials=credentials,
        )
        for name in sorted(names)
    }


def jwks_from_auth(channel: grpc.aio.Channel) -> Callable[[], Awaitable[dict]]:
    """A JWKS source that asks Auth over gRPC (`AuthService.GetJwks`)."""
    stub = auth_pb2_grpc.AuthServiceStub(channel)

    async def fetch() -> dict:
        response = await stub.GetJwks(auth_pb2.GetJwksRequest(), timeout=3.0)
        return orjson.loads(response.jwks_json)

    return fetch
