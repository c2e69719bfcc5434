"""REST adapter: sign-in with VK ID and Odnoklassniki (OAuth 2.0 + PKCE) and Telegram Login.

API-first: a web front-end owns the provider's redirect URI (the exact one registered with the
provider) and hands the query it receives (`code`, `state`, VK's `device_id`) to
`GET /api/v1/auth/oauth/{provider}/callback`, which answers JSON. The browser binding is a cookie
set at `authorize` (or `link`) holding a nonce whose hash is in the state record; SameSite=Lax lets
it ride along the provider's top-level redirect back to our site.

- GET  /oauth/{provider}/authorize[?acceptTerms=true] → 302 to the provider (+ cookie)
- POST /oauth/{provider}/link (Bearer)                → 200 {authorizeUrl} (+ cookie)
- GET  /oauth/{provider}/callback?code&state[&device_id] → 200 tokens | mfa-challenges | identities
- POST /telegram (the widget's fields [+ acceptTerms]; Bearer → link) → the same
- GET  /identities, DELETE /identities/{provider}
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import RedirectResponse, Response

from parovoz.chassis import context
from parovoz.chassis.errors import too_many_requests
from parovoz.chassis.rest.auth import client_ip, optional_principal, principal
from parovoz.chassis.rest.body import Body
from parovoz.chassis.rest.envelope import EnvelopeResponse, collection_document, document, resource
from parovoz.chassis.rest.query import parse_list_query, select_fields
from parovoz.chassis.security.principal import Principal
from parovoz.chassis.service import ServiceContext
from parovoz.services.auth.api import PREFIX, RATE_WINDOW_S
from parovoz.services.auth.domain import external_errors
from parovoz.services.auth.domain.external import TOKEN_MAX, Identity
from parovoz.services.auth.external_flows import Authorization, Client, ExternalFlows, Outcome
from parovoz.services.auth.external_store import IDENTITIES_COLLECTION, ExternalStore
from parovoz.services.auth.oauth.config import ExternalConfig
from parovoz.services.auth.resources import NO_STORE, sign_in_response
from parovoz.services.auth.wiring import components

_EXTRAS_KEY = "auth.external"
COOKIE_PREFIX = "pz_oauth_"
COOKIE_PATH = f"{PREFIX}/oauth"
# The widget's own fields are a handful; a payload with far more is not the widget's.
TELEGRAM_MAX_FIELDS = 24


class TelegramBody(BaseModel):
    """The Login Widget's fields as Telegram names them. Fields it may add later are accepted
    (every received field counts in the hash check); `acceptTerms` is ours and is not signed."""

    model_config = ConfigDict(extra="allow")

    id: int
    first_name: str | None = Field(default=None, max_length=256)
    last_name: str | None = Field(default=None, max_length=256)
    username: str | None = Field(default=None, max_length=64)
    photo_url: str | None = Field(default=None, max_length=2048)
    auth_date: int
    hash: str = Field(pattern=r"^[0-9a-fA-F]{64}$")
    accept_terms: bool = Field(default=False, alias="acceptTerms")


def external_flows(ctx: ServiceContext) -> ExternalFlows:
    found = ctx.extras.get(_EXTRAS_KEY)
    if found is None:
        auth = components(ctx)
        found = ctx.extras[_EXTRAS_KEY] = ExternalFlows(
            auth.flows,
            ExternalStore(ctx.db),
            ExternalConfig.from_settings(ctx.settings),
            terms_version=auth.config.terms_version,
            privacy_version=auth.config.privacy_version,
        )
    return found


def identity_resource(identity: Identity) -> dict[str, Any]:
    return resource(
        "identities",
        identity.provider,
        {
            "provider": identity.provider,
            "displayName": identity.display_name,
            "linkedAt": identity.linked_at,
            "lastUsedAt": identity.last_used_at,
        },
    )


def build_router(ctx: ServiceContext) -> APIRouter:
    flows = external_flows(ctx)
    config = components(ctx).config
    router = APIRouter(prefix=PREFIX, tags=["auth"])

    async def external_rate(request: Request) -> str:
        ip = client_ip(request)
        decision = await ctx.limiter.hit(f"auth:external:ip:{ip}", config.login_rate_per_min, RATE_WINDOW_S)
        if not decision.allowed:
            raise too_many_requests(decision.retry_after)
        return ip

    def who(request: Request, ip: str) -> Client:
        return Client(ip, request.headers.get("user-agent"), context.language.get())

    def secure(request: Request, provider: str) -> bool:
        # https when we are reached over it, or when the site the provider returns to is
        site = urlsplit(flows.client(provider).redirect_uri)
        return request.url.scheme == "https" or site.scheme == "https"

    def with_cookie(response: Response, request: Request, provider: str, started: Authorization) -> Response:
        response.set_cookie(
            COOKIE_PREFIX + provider,
            started.browser_nonce,
            max_age=flows.config.state_ttl_s,
            path=COOKIE_PATH,
            secure=secure(request, provider),
            httponly=True,
            samesite="lax",
        )
        return response

    def outcome_response(outcome: Outcome) -> Response:
        if outcome.linked is not None:
            return EnvelopeResponse(document(identity_resource(outcome.linked)), headers=NO_STORE)
        assert outcome.signed_in is not None
        return sign_in_response(outcome.signed_in)

    @router.get(
        "/oauth/{provider}/authorize",
        status_code=302,
        summary="Start signing in (or up, with acceptTerms=true) with VK ID (vk) or OK (ok): a redirect",
    )
    async def authorize(
        request: Request,
        provider: str,
        ip: str = Depends(external_rate),
        accept_terms: bool = Query(default=False, alias="acceptTerms"),
    ) -> Response:
        started = await flows.start(provider, who(request, ip), accept_terms=accept_terms)
        response = RedirectResponse(started.url, status_code=302, headers={"Cache-Control": "no-store"})
        return with_cookie(response, request, provider, started)

    @router.post(
        "/oauth/{provider}/link",
        summary="Start linking a VK ID or OK account to the caller: the provider URL to open",
    )
    async def link(
        request: Request,
        provider: str,
        ip: str = Depends(external_rate),
        caller: Principal = Depends(principal),
    ) -> Response:
        started = await flows.start(provider, who(request, ip), linking=caller)
        body = document(
            resource(
                "oauth-authorizations",
                started.id,
                {"provider": provider, "authorizeUrl": started.url, "expiresAt": started.expires_at},
            )
        )
        return with_cookie(EnvelopeResponse(body, headers=NO_STORE), request, provider, started)

    @router.get(
        "/oauth/{provider}/callback",
        summary="Finish a VK ID / OK authorization with the provider's code and state",
    )
    async def callback(
        request: Request,
        provider: str,
        ip: str = Depends(external_rate),
        code: str | None = Query(default=None, max_length=TOKEN_MAX),
        state: str | None = Query(default=None, max_length=TOKEN_MAX),
        device_id: str | None = Query(default=None, max_length=TOKEN_MAX),
    ) -> Response:
        outcome = await flows.callback(
            provider,
            who(request, ip),
            state=state,
            browser_nonce=request.cookies.get(COOKIE_PREFIX + provider),
            code=code,
            device_id=device_id,
        )
        response = outcome_response(outcome)
        response.delete_cookie(
            COOKIE_PREFIX + provider,
            path=COOKIE_PATH,
            secure=secure(request, provider),
            httponly=True,
            samesite="lax",
        )
        return response

    @router.post(
        "/telegram",
        summary="Sign in, sign up (acceptTerms) or, with a Bearer token, link with Telegram Login",
    )
    async def telegram_login(
        request: Request,
        ip: str = Depends(external_rate),
        caller: Principal | None = Depends(optional_principal),
        body: TelegramBody = Body(TelegramBody),
    ) -> Response:
        fields = body.model_dump(exclude_unset=True, exclude={"accept_terms"})
        if len(fields) > TELEGRAM_MAX_FIELDS:
            raise external_errors.invalid_telegram_auth()
        outcome = await flows.telegram(
            fields, who(request, ip), accept_terms=body.accept_terms, linking=caller
        )
        return outcome_response(outcome)

    @router.get("/identities", summary="The caller's linked VK ID, OK and Telegram accounts")
    async def identities(request: Request, caller: Principal = Depends(principal)) -> Response:
        query = parse_list_query(request, IDENTITIES_COLLECTION)
        found, total, password_set = await flows.identities(caller, query)
        items = [select_fields(identity_resource(i), query.fields) for i in found]
        # passwordSet: whether unlinking the last provider would leave a way to sign in
        body = collection_document(items, query, total, request.url, meta={"passwordSet": password_set})
        return EnvelopeResponse(body, headers={"Cache-Control": "no-store"})

    @router.delete(
        "/identities/{provider}",
        status_code=204,
        summary="Unlink a provider (refused when it is the last way to sign in)",
    )
    async def unlink(provider: str, caller: Principal = Depends(principal)) -> Response:
        await flows.unlink(caller, provider)
        return Response(status_code=204)

    return router
