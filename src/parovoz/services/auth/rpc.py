"""gRPC adapter: platform.auth.v1.AuthService (ValidateToken, GetUser, GetJwks).

Servicer methods raise ApiError; the chassis server interceptor turns it into the status with
`ErrorInfo.reason` = the same code REST would carry.
"""

from __future__ import annotations

import json
import uuid

import grpc

from parovoz.chassis.errors import bad_request
from parovoz.chassis.rpc.convert import timestamp
from parovoz.chassis.security.tokens import invalid_token
from parovoz.chassis.service import GrpcRegistration, ServiceContext
from parovoz.protos.platform.auth.v1 import auth_pb2, auth_pb2_grpc
from parovoz.services.auth.domain.users import ACTIVE, BLOCKED, User
from parovoz.services.auth.wiring import AuthComponents, components

SERVICE_NAME = "platform.auth.v1.AuthService"
_STATUS = {ACTIVE: auth_pb2.USER_STATUS_ACTIVE, BLOCKED: auth_pb2.USER_STATUS_BLOCKED}


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def user_message(user: User) -> auth_pb2.User:
    return auth_pb2.User(
        id=user.id,
        email=user.email,
        username=user.username,
        roles=list(user.roles),
        email_verified=user.email_verified,
        status=_STATUS.get(user.status, auth_pb2.USER_STATUS_UNSPECIFIED),
        created_at=timestamp(user.created_at),
    )


class AuthServicer(auth_pb2_grpc.AuthServiceServicer):
    def __init__(self, auth: AuthComponents) -> None:
        self.auth = auth

    async def ValidateToken(
        self, request: auth_pb2.ValidateTokenRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.ValidateTokenResponse:
        # Signature, expiry, issuer and audience first (CPU only, keys cached; an unknown kid
        # reloads our key table once). Then the authoritative part other services cannot do
        # locally: the token's session must still be live (not logged out, not revoked by
        # refresh-token reuse) and its user not blocked — one primary-key lookup.
        principal = await self.auth.verifier.verify_async(request.token)
        session_id = principal.session_id
        if not session_id or not _is_uuid(session_id) or not _is_uuid(principal.user_id):
            raise invalid_token()
        if not await self.auth.store.session_is_live(session_id, principal.user_id):
            raise invalid_token()
        return auth_pb2.ValidateTokenResponse(
            user_id=principal.user_id,
            roles=sorted(principal.roles),
            session_id=session_id,
            token_id=principal.token_id,
            expires_at=timestamp(principal.expires_at),
        )

    async def GetUser(
        self, request: auth_pb2.GetUserRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.GetUserResponse:
        if not _is_uuid(request.user_id):
            raise bad_request("INVALID_PARAMETER", params={"name": "user_id"}, parameter="user_id")
        user = await self.auth.flows.user(request.user_id)
        return auth_pb2.GetUserResponse(user=user_message(user))

    async def GetJwks(
        self, request: auth_pb2.GetJwksRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.GetJwksResponse:
        document = await self.auth.keyring.jwks()
        return auth_pb2.GetJwksResponse(jwks_json=json.dumps(document, separators=(",", ":")))


def registrations(ctx: ServiceContext) -> list[GrpcRegistration]:
    return [
        GrpcRegistration(
            name=SERVICE_NAME,
            servicer=AuthServicer(components(ctx)),
            add_to_server=auth_pb2_grpc.add_AuthServiceServicer_to_server,
        )
    ]
