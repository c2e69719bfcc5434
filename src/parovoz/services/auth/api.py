"""REST adapter: /api/v1/auth/{register,login,refresh-token,logout,jwks,sessions,email/verify,
password/change,password/forgot,password/reset}."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable

from fastapi import APIRouter, Depends, Request
from pydantic import Field, ValidationInfo, field_validator
from starlette.responses import Response

from parovoz.chassis import context
from parovoz.chassis.errors import message_for, too_many_requests
from parovoz.chassis.models import StrictBody
from parovoz.chassis.rest.auth import client_ip, principal
from parovoz.chassis.rest.body import Body
from parovoz.chassis.rest.envelope import EnvelopeResponse, collection_document, document
from parovoz.chassis.rest.query import parse_list_query, select_fields
from parovoz.chassis.security.principal import Principal
from parovoz.chassis.service import ServiceContext
from parovoz.services.auth.captcha import CAPTCHA_TOKEN_MAX
from parovoz.services.auth.domain import one_time, rules
from parovoz.services.auth.domain.users import PRIVACY, TERMS, Consent
from parovoz.services.auth.guard_wiring import sign_in_guard
from parovoz.services.auth.resources import (
    NO_STORE,
    session_resource,
    sign_in_response,
    tokens_resource,
    user_resource,
)
from parovoz.services.auth.store import SESSIONS_COLLECTION
from parovoz.services.auth.timing import no_sooner_than
from parovoz.services.auth.wiring import components

PREFIX = "/api/v1/auth"
RATE_WINDOW_S = 60.0
JWKS_MAX_AGE = 300


def _rule(check: Callable[[str], str], value: str) -> str:
    """Run a domain rule; a violation becomes a validation error with the localized text."""
    try:
        return check(value)
    except rules.RuleViolation as exc:
        raise ValueError(message_for(exc.code, context.language.get())[1]) from None


class RegisterBody(StrictBody):
    email: str
    username: str
    password: str
    # Consent to the user agreement and the privacy policy (152-FZ): must be given, explicitly.
    accept_terms: bool
    # needed when PAROVOZ_AUTH_CAPTCHA_ROUTES lists "register"
    captcha_token: str | None = Field(default=None, min_length=1, max_length=CAPTCHA_TOKEN_MAX)

    @field_validator("accept_terms")
    @classmethod
    def _accept_terms(cls, value: bool) -> bool:
        if value is not True:
            raise ValueError(message_for("CONSENT_REQUIRED", context.language.get())[1])
        return value

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return _rule(rules.normalize_email, value)

    @field_validator("username")
    @classmethod
    def _username(cls, value: str) -> str:
        return _rule(rules.check_username, value)

    @field_validator("password")
    @classmethod
    def _password(cls, value: str, info: ValidationInfo) -> str:
        # email and username are declared first, so their checked values (when valid) are here
        check = functools.partial(
            rules.check_password, email=info.data.get("email"), username=info.data.get("username")
        )
        return _rule(check, value)


class LoginBody(StrictBody):
    login: str = Field(min_length=1, max_length=rules.LOGIN_MAX)
    password: str = Field(min_length=1, max_length=rules.PASSWORD_MAX)
    # asked for (401 CAPTCHA_REQUIRED) after repeated failures: the solved widget's token
    captcha_token: str | None = Field(default=None, min_length=1, max_length=CAPTCHA_TOKEN_MAX)


class RefreshTokenBody(StrictBody):
    # token_urlsafe(32) is 43 characters; anything much longer is not ours
    refresh_token: str = Field(min_length=1, max_length=512)


class NewPasswordBody(StrictBody):
    new_password: str

    @field_validator("new_password")
    @classmethod
    def _new_password(cls, value: str) -> str:
        # Length and the common list here; equality with the e-mail or username in the flow,
        # which knows the account.
        return _rule(rules.check_password, value)


class PasswordChangeBody(NewPasswordBody):
    current_password: str = Field(min_length=1, max_length=rules.PASSWORD_MAX)


class OneTimeTokenBody(StrictBody):
    token: str = Field(min_length=1, max_length=one_time.TOKEN_MAX)


class PasswordForgotBody(StrictBody):
    email: str
    # needed when PAROVOZ_AUTH_CAPTCHA_ROUTES lists "password-forgot"
    captcha_token: str | None = Field(default=None, min_length=1, max_length=CAPTCHA_TOKEN_MAX)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        # The format only: whether an account has it is never told (no enumeration).
        return _rule(rules.normalize_email, value)


class PasswordResetBody(NewPasswordBody):
    token: str = Field(min_length=1, max_length=one_time.TOKEN_MAX)


def _login_key(login: str) -> str:
    # hashed: the limiter's keys (Redis in distributed mode) should not hold e-mail addresses
    return hashlib.sha256(rules.normalize_login(login).encode("utf-8")).hexdigest()[:32]


def build_router(ctx: ServiceContext) -> APIRouter:
    auth = components(ctx)
    config = auth.config
    flows = auth.flows
    guard = sign_in_guard(ctx)

    async def limit(key: str, per_minute: int) -> None:
        decision = await ctx.limiter.hit(key, per_minute, RATE_WINDOW_S)
        if not decision.allowed:
            raise too_many_requests(decision.retry_after)

    # Dependencies run in declaration order: these count the attempt before the body is parsed,
    # so a flood of junk bodies is throttled like a flood of real ones.
    async def register_rate(request: Request) -> str:
        ip = client_ip(request)
        await limit(f"auth:register:ip:{ip}", config.register_rate_per_min)
        return ip

    async def login_rate(request: Request) -> str:
        ip = client_ip(request)
        await limit(f"auth:login:ip:{ip}", config.login_rate_per_min)
        return ip

    async def password_change_rate(caller: Principal = Depends(principal)) -> Principal:
        # Per account: a stolen access token must not become a password-guessing oracle.
        await limit(f"auth:password-change:user:{caller.user_id}", config.login_id_rate_per_min)
        return caller

    async def one_time_token_rate(request: Request) -> str:
        ip = client_ip(request)
        await limit(f"auth:one-time-token:ip:{ip}", config.one_time_token_rate_per_min)
        return ip

    async def password_forgot_rate(request: Request) -> str:
        ip = client_ip(request)
        await limit(f"auth:password-forgot:ip:{ip}", config.password_forgot_rate_per_min)
        return ip

    router = APIRouter(prefix=PREFIX, tags=["auth"])

    @router.post("/register", status_code=201, summary="Register with e-mail, username and password")
    async def register(
        request: Request, ip: str = Depends(register_rate), body: RegisterBody = Body(RegisterBody)
    ) -> Response:
        await guard.require_captcha("register", body.captcha_token, ip)
        now = flows.clock()
        agent = request.headers.get("user-agent")
        consents = (
            Consent(TERMS, config.terms_version, now, ip, agent),
            Consent(PRIVACY, config.privacy_version, now, ip, agent),
        )
        user = await flows.register(
            body.email, body.username, body.password, language=context.language.get(), consents=consents
        )
        return EnvelopeResponse(
            document(user_resource(user)),
            status_code=201,
            headers={"Location": f"/api/v1/users/{user.id}"},
        )

    @router.post("/login", summary="Sign in with e-mail or username and password")
    async def login(
        request: Request, ip: str = Depends(login_rate), body: LoginBody = Body(LoginBody)
    ) -> Response:
        # The guard holds the per-login rate limit, delays and captcha, and counts failures.
        async with guard.attempt(body.login, ip, body.captcha_token):
            result = await flows.login(
                body.login, body.password, user_agent=request.headers.get("user-agent"), client_ip=ip
            )
        return sign_in_response(result)

    @router.post("/refresh-token", summary="Exchange a refresh token for a new token pair")
    async def refresh_token(body: RefreshTokenBody = Body(RefreshTokenBody)) -> Response:
        pair = await flows.refresh(body.refresh_token)
        return EnvelopeResponse(document(tokens_resource(pair)), headers=NO_STORE)

    @router.post("/logout", status_code=204, summary="End the session of a refresh token")
    async def logout(body: RefreshTokenBody = Body(RefreshTokenBody)) -> Response:
        await flows.logout(body.refresh_token)
        return Response(status_code=204)

    @router.get("/sessions", summary="The caller's live sessions (`current` marks this one)")
    async def list_sessions(request: Request, caller: Principal = Depends(principal)) -> Response:
        query = parse_list_query(request, SESSIONS_COLLECTION)
        found, total, current = await flows.sessions(caller, query)
        items = [select_fields(session_resource(s, current), query.fields) for s in found]
        return EnvelopeResponse(
            collection_document(items, query, total, request.url), headers={"Cache-Control": "no-store"}
        )

    @router.delete("/sessions/{session_id}", status_code=204, summary="End one of the caller's sessions")
    async def revoke_session(session_id: str, caller: Principal = Depends(principal)) -> Response:
        await flows.revoke_session(caller, session_id)
        return Response(status_code=204)

    @router.post(
        "/password/change",
        status_code=204,
        summary="Change the password; every other session of the user ends",
    )
    async def change_password(
        caller: Principal = Depends(password_change_rate),
        body: PasswordChangeBody = Body(PasswordChangeBody),
    ) -> Response:
        await flows.change_password(caller, body.current_password, body.new_password)
        return Response(status_code=204)

    @router.post("/email/verify", status_code=204, summary="Verify the e-mail address with the mailed token")
    async def verify_email(
        _ip: str = Depends(one_time_token_rate), body: OneTimeTokenBody = Body(OneTimeTokenBody)
    ) -> Response:
        await flows.verify_email(body.token)
        return Response(status_code=204)

    @router.post(
        "/password/forgot",
        status_code=202,
        summary="Mail a password-reset link; the same answer whether or not the address has an account",
    )
    async def forgot_password(
        ip: str = Depends(password_forgot_rate), body: PasswordForgotBody = Body(PasswordForgotBody)
    ) -> Response:
        # Before anything about the address is looked at: asked of every address alike.
        await guard.require_captcha("password-forgot", body.captcha_token, ip)
        # Counted for every address alike, known or not: the limit itself tells nothing.
        decision = await ctx.limiter.hit(
            f"auth:password-forgot:email:{_login_key(body.email)}",
            config.password_forgot_email_rate_per_hour,
            3600.0,
        )
        if not decision.allowed:
            raise too_many_requests(decision.retry_after)
        async with no_sooner_than(config.password_forgot_min_ms / 1000):
            await flows.forgot_password(body.email)
        return Response(status_code=202)

    @router.post(
        "/password/reset",
        status_code=204,
        summary="Set a new password with the mailed token; every session of the user ends",
    )
    async def reset_password(
        _ip: str = Depends(one_time_token_rate), body: PasswordResetBody = Body(PasswordResetBody)
    ) -> Response:
        await flows.reset_password(body.token, body.new_password)
        return Response(status_code=204)

    @router.get("/jwks", summary="Public keys that verify access tokens (JWK Set)")
    async def jwks() -> Response:
        return EnvelopeResponse(
            await auth.keyring.jwks(), headers={"Cache-Control": f"public, max-age={JWKS_MAX_AGE}"}
        )

    return router
