"""A real loopback gRPC server hosting a test AuthService built from the generated stubs.

The server trusts service tokens signed with `TEST_KEY`; `library_credentials()` are the ones the
tests' channels present (caller "library")."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import grpc
import pytest

from parovoz.chassis import context
from parovoz.chassis.config import Settings
from parovoz.chassis.errors import ApiError, register_messages
from parovoz.chassis.rpc import bind, create_server
from parovoz.chassis.rpc.metadata import caller_service
from parovoz.chassis.security.keys import SigningKey
from parovoz.chassis.security.service_credentials import ServiceCredentials
from parovoz.chassis.security.tokens import JwksTokenVerifier, local_jwks_source
from parovoz.chassis.service import GrpcRegistration
from parovoz.protos.platform.auth.v1 import auth_pb2, auth_pb2_grpc
from tests.service_identity import fixed_credentials, service_token

AUTH_SERVICE = "platform.auth.v1.AuthService"
LEAKED_SECRET = "password=hunter2 at db.internal:5432"
TEST_KEY = SigningKey.generate()  # Auth's signing key as far as these servers know


def library_credentials() -> ServiceCredentials:
    return fixed_credentials("library", service_token(TEST_KEY, "library"))


register_messages(
    {
        "USER_NOT_FOUND": {
            "ru": ("Пользователь не найден", "Пользователь {userId} не найден."),
            "en": ("User not found", "User {userId} was not found."),
        }
    }
)


class RecordingAuthServicer(auth_pb2_grpc.AuthServiceServicer):
    """GetUser: "missing" → 404, "boom" → a crash, "slow" → sleeps, "flaky" → UNAVAILABLE once.
    ValidateToken echoes what the server saw of the caller's context (token "flaky" fails once)."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    async def _fail_first_call(self, key: str, grpc_context: grpc.aio.ServicerContext) -> None:
        self.calls[key] += 1
        if self.calls[key] == 1:
            await grpc_context.abort(grpc.StatusCode.UNAVAILABLE, "warming up")

    async def GetUser(self, request, grpc_context):  # type: ignore[no-untyped-def]
        user_id = request.user_id
        if user_id == "missing":
            raise ApiError(404, "USER_NOT_FOUND", params={"userId": user_id})
        if user_id == "boom":
            raise RuntimeError(LEAKED_SECRET)
        if user_id == "slow":
            await asyncio.sleep(3)
        if user_id == "flaky":
            await self._fail_first_call("GetUser:flaky", grpc_context)
        return auth_pb2.GetUserResponse(
            user=auth_pb2.User(id=user_id, username=f"user-{user_id}", roles=["user"])
        )

    async def ValidateToken(self, request, grpc_context):  # type: ignore[no-untyped-def]
        if request.token == "flaky":
            await self._fail_first_call("ValidateToken:flaky", grpc_context)
        return auth_pb2.ValidateTokenResponse(
            user_id=context.user_token.get() or "",
            session_id=context.request_id.get() or "",
            token_id=context.correlation_id.get() or "",
            roles=[caller_service.get() or "", context.language.get()],
        )


@pytest.fixture
async def servicer() -> RecordingAuthServicer:
    return RecordingAuthServicer()


async def start_server(
    servicer: auth_pb2_grpc.AuthServiceServicer, settings: Settings, *, key: SigningKey = TEST_KEY
) -> tuple[grpc.aio.Server, int]:
    registration = GrpcRegistration(AUTH_SERVICE, servicer, auth_pb2_grpc.add_AuthServiceServicer_to_server)
    tokens = JwksTokenVerifier(local_jwks_source([key]))
    server, _health = create_server([registration], settings, service_name="auth", tokens=tokens)
    port = bind(server, "127.0.0.1", 0)
    await server.start()
    return server, port


@pytest.fixture
async def auth_address(servicer: RecordingAuthServicer) -> AsyncIterator[str]:
    server, port = await start_server(servicer, Settings())
    yield f"127.0.0.1:{port}"
    await server.stop(grace=None)
