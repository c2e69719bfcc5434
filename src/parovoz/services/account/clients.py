"""Account's calls to Auth over its gRPC contract (platform.auth.v1): re-checking a user before
a deletion, and Auth's part of a data export. Failures come back as the ApiError Auth raised
(same code, status and localised text), so the REST API passes them on as they are."""

from __future__ import annotations

from typing import Any

import grpc
import orjson

from parovoz.chassis.rpc.errors import api_error_from
from parovoz.chassis.service import ServiceContext
from parovoz.protos.platform.auth.v1 import auth_pb2, auth_pb2_grpc

DEADLINE_S = 5.0
# Building Auth's export reads every session of the user: a longer deadline.
EXPORT_DEADLINE_S = 15.0


class AuthClient:
    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._stub = auth_pb2_grpc.AuthServiceStub(channel)

    async def verify_user_credentials(
        self, user_id: str, *, password: str, code: str | None, session_id: str | None
    ) -> str:
        """How the user proved presence; raises the ApiError (401/404) Auth answered."""
        request = auth_pb2.VerifyUserCredentialsRequest(
            user_id=user_id, password=password, code=code or "", session_id=session_id or ""
        )
        try:
            response = await self._stub.VerifyUserCredentials(request, timeout=DEADLINE_S)
        except grpc.aio.AioRpcError as exc:
            raise api_error_from(exc, service="auth") from None
        return response.method

    async def export_user_data(self, user_id: str) -> dict[str, Any]:
        try:
            response = await self._stub.ExportUserData(
                auth_pb2.ExportUserDataRequest(user_id=user_id), timeout=EXPORT_DEADLINE_S
            )
        except grpc.aio.AioRpcError as exc:
            raise api_error_from(exc, service="auth") from None
        data = orjson.loads(response.data_json)
        if not isinstance(data, dict):
            raise ValueError("Auth's export is not a JSON object")
        return data


def auth_client(ctx: ServiceContext) -> AuthClient:
    """One client per service context, over the `auth` peer channel (`rpc_peers=("auth",)`)."""
    found = ctx.extras.get("account.auth_client")
    if found is None:
        found = ctx.extras["account.auth_client"] = AuthClient(ctx.channel("auth"))
    return found
