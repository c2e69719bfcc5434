"""gRPC adapter: platform.auth.v1.AuthService (ValidateToken, GetUser, GetJwks,
VerifyUserCredentials, ExportUserData, SetUserRoles).

Servicer methods raise ApiError; the chassis server interceptor turns it into the status with
`ErrorInfo.reason` = the same code REST would carry.
"""

from __future__ import annotations

import json
import uuid

import grpc

from parovoz.chassis.errors import ApiError, bad_request
from parovoz.chassis.rpc.convert import timestamp
from parovoz.chassis.rpc.identity import allowed_callers, public_method
from parovoz.chassis.security.tokens import invalid_token
from parovoz.chassis.service import GrpcRegistration, ServiceContext
from parovoz.protos.platform.auth.v1 import auth_pb2, auth_pb2_grpc
from parovoz.services.auth import export, reauth
from parovoz.services.auth.domain.users import ACTIVE, BLOCKED, User
from parovoz.services.auth.roles_store import change_roles
from parovoz.services.auth.service_tokens import ServiceTokenDesk, desk
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
    def __init__(self, auth: AuthComponents, service_tokens: ServiceTokenDesk) -> None:
        self.auth = auth
        self.service_tokens = service_tokens

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

    @public_method  # public keys; asked for before a service holds a token (the gateway never does)
    async def GetJwks(
        self, request: auth_pb2.GetJwksRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.GetJwksResponse:
        document = await self.auth.keyring.jwks()
        return auth_pb2.GetJwksResponse(jwks_json=json.dumps(document, separators=(",", ":")))

    @public_method  # how a service gets its token: the secret is the credential here
    async def IssueServiceToken(
        self, request: auth_pb2.IssueServiceTokenRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.IssueServiceTokenResponse:
        issued = await self.service_tokens.issue(
            request.service, request.secret, client=context.peer().rsplit(":", 1)[0]
        )
        return auth_pb2.IssueServiceTokenResponse(token=issued.token, expires_at=timestamp(issued.expires_at))

    @allowed_callers("admin")  # a staff action: only the Admin service grants and takes away roles
    async def SetUserRoles(
        self, request: auth_pb2.SetUserRolesRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.SetUserRolesResponse:
        if not _is_uuid(request.user_id):
            raise bad_request("INVALID_PARAMETER", params={"name": "user_id"}, parameter="user_id")
        change = await change_roles(self.auth.store.db, str(uuid.UUID(request.user_id)), request.roles)
        user = await self.auth.flows.user(change.user_id)
        return auth_pb2.SetUserRolesResponse(
            user=user_message(user),
            previous_roles=list(change.previous_roles),
            changed=change.changed,
            sessions_ended=change.sessions_ended,
        )

    @allowed_callers("account")  # a password oracle: only Account, before it deletes an account
    async def VerifyUserCredentials(
        self, request: auth_pb2.VerifyUserCredentialsRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.VerifyUserCredentialsResponse:
        if not _is_uuid(request.user_id):
            raise bad_request("INVALID_PARAMETER", params={"name": "user_id"}, parameter="user_id")
        method = await reauth.verify_user_credentials(
            self.auth.store.db,
            self.auth.passwords,
            self.auth.mfa,
            user_id=str(uuid.UUID(request.user_id)),
            password=request.password,
            code=request.code or None,
            session_id=request.session_id if _is_uuid(request.session_id) else None,
        )
        return auth_pb2.VerifyUserCredentialsResponse(method=method)

    @allowed_callers("account")  # personal data: only Account, for the user's data export
    async def ExportUserData(
        self, request: auth_pb2.ExportUserDataRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.ExportUserDataResponse:
        if not _is_uuid(request.user_id):
            raise bad_request("INVALID_PARAMETER", params={"name": "user_id"}, parameter="user_id")
        async with self.auth.store.db.connect() as conn:
            data = await export.export_user(conn, str(uuid.UUID(request.user_id)))
        if data is None:
            raise ApiError(404, "USER_NOT_FOUND")
        return auth_pb2.ExportUserDataResponse(data_json=json.dumps(data, ensure_ascii=False))


def registrations(ctx: ServiceContext) -> list[GrpcRegistration]:
    return [
        GrpcRegistration(
            name=SERVICE_NAME,
            servicer=AuthServicer(components(ctx), desk(ctx)),
            add_to_server=auth_pb2_grpc.add_AuthServiceServicer_to_server,
        )
    ]
