"""REST adapter: /api/v1/auth/2fa/totp (enrol, confirm, disable) and /api/v1/auth/login/2fa.

A wrong or replayed code is 401 INVALID_MFA_CODE everywhere (confirm included), a missing one
401 MFA_CODE_REQUIRED; an unknown, expired, spent or dead mfaToken is 401 INVALID_MFA_TOKEN.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from pydantic import Field
from starlette.responses import Response

from parovoz.chassis.errors import too_many_requests
from parovoz.chassis.models import StrictBody
from parovoz.chassis.rest.auth import client_ip, principal
from parovoz.chassis.rest.body import Body
from parovoz.chassis.rest.envelope import EnvelopeResponse, document, resource
from parovoz.chassis.security.principal import Principal
from parovoz.chassis.service import ServiceContext
from parovoz.services.auth.api import PREFIX, RATE_WINDOW_S
from parovoz.services.auth.domain import rules
from parovoz.services.auth.domain.mfa_sign_in import finish_sign_in
from parovoz.services.auth.resources import NO_STORE, sign_in_response
from parovoz.services.auth.wiring import components

CODE_MAX = 64  # a TOTP code is 6 digits, a recovery code 11 characters: room for spaces, no more
MFA_TOKEN_MAX = 512


class CodeBody(StrictBody):
    code: str = Field(min_length=1, max_length=CODE_MAX)


class DisableBody(StrictBody):
    # Optional in the schema so that a missing one gets its own error code (and passwordless
    # accounts, signed up through VK/OK/Telegram, send the code alone).
    password: str | None = Field(default=None, max_length=rules.PASSWORD_MAX)
    code: str | None = Field(default=None, max_length=CODE_MAX)


class SecondStepBody(StrictBody):
    mfa_token: str = Field(min_length=1, max_length=MFA_TOKEN_MAX)
    code: str = Field(min_length=1, max_length=CODE_MAX)


def build_router(ctx: ServiceContext) -> APIRouter:
    auth = components(ctx)
    config = auth.config
    flows = auth.flows
    mfa = auth.mfa

    async def limit(key: str, per_minute: int) -> None:
        decision = await ctx.limiter.hit(key, per_minute, RATE_WINDOW_S)
        if not decision.allowed:
            raise too_many_requests(decision.retry_after)

    async def live_caller(action: str, caller: Principal) -> str:
        # Per account: a stolen access token must not become a password or code oracle.
        await limit(f"auth:2fa:{action}:user:{caller.user_id}", config.login_id_rate_per_min)
        await flows.live_caller(caller)
        return caller.user_id

    async def second_step_rate(request: Request) -> str:
        ip = client_ip(request)
        await limit(f"auth:login-2fa:ip:{ip}", config.login_rate_per_min)
        return ip

    router = APIRouter(prefix=PREFIX, tags=["auth"])

    @router.post(
        "/2fa/totp",
        summary="Start TOTP enrolment: a new secret for the authenticator app (replaces a pending one)",
    )
    async def start_totp(caller: Principal = Depends(principal)) -> Response:
        user_id = await live_caller("enrol", caller)
        enrolment = await mfa.start_enrolment(user_id)
        attributes = {"secret": enrolment.secret, "otpauthUri": enrolment.otpauth_uri}
        return EnvelopeResponse(document(resource("totp-enrolments", user_id, attributes)), headers=NO_STORE)

    @router.post(
        "/2fa/totp/confirm",
        summary="Turn 2FA on with a code of the pending secret; answers the recovery codes, once",
    )
    async def confirm_totp(
        caller: Principal = Depends(principal), body: CodeBody = Body(CodeBody)
    ) -> Response:
        user_id = await live_caller("confirm", caller)
        codes = await mfa.confirm_enrolment(user_id, body.code)
        attributes = {"enabled": True, "recoveryCodes": codes}
        return EnvelopeResponse(document(resource("totp-credentials", user_id, attributes)), headers=NO_STORE)

    @router.delete(
        "/2fa/totp",
        status_code=204,
        summary="Turn 2FA off with the password and a code (TOTP or recovery); recovery codes go too",
    )
    async def disable_totp(
        caller: Principal = Depends(principal), body: DisableBody = Body(DisableBody)
    ) -> Response:
        user_id = await live_caller("disable", caller)
        await mfa.disable(user_id, body.password, body.code)
        return Response(status_code=204)

    @router.post("/login/2fa", summary="Finish a 2FA sign-in: the challenge's mfaToken and a code")
    async def login_second_step(
        request: Request, ip: str = Depends(second_step_rate), body: SecondStepBody = Body(SecondStepBody)
    ) -> Response:
        pair = await finish_sign_in(
            flows, body.mfa_token, body.code, user_agent=request.headers.get("user-agent"), client_ip=ip
        )
        return sign_in_response(pair)

    return router
