"""Sandbox of VK ID (OAuth 2.1, id.vk.com): `parovoz sandbox vk-id --port N`.

- GET /authorize: checks client_id, the exact registered redirect_uri (a mismatch is refused,
  nothing is redirected), response_type=code, state, an S256 code_challenge; auto-approves the user
  named by `user=` (default "ivan"; any other name makes a user up) and redirects to the
  redirect_uri with code, state, device_id, type=code_v2 and expires_in.
- POST /oauth2/auth (form): grant_type=authorization_code, code (single-use), code_verifier
  (S256 of it must equal the challenge), client_id, device_id, redirect_uri, state → tokens and
  user_id; refusals are 400 {"error": "invalid_grant", "error_description"}.
- POST /oauth2/user_info (form): client_id, access_token → {"user": {...}}.

Configured by constructor or PAROVOZ_SANDBOX_VK_CLIENT_ID / PAROVOZ_SANDBOX_VK_REDIRECT_URI.
"""

from __future__ import annotations

import os
import secrets
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from parovoz.sandboxes._oauth import DEFAULT_USERS, Grant, Ledger, SandboxUser, form_of, s256, user_for

DEFAULT_CLIENT_ID = "sandbox-vk-app"
DEFAULT_REDIRECT_URI = "http://127.0.0.1:8000/api/v1/auth/oauth/vk/callback"
SCOPE = "vkid.personal_info email"


def _refuse(description: str, error: str = "invalid_grant", status: int = 400) -> Response:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def create_app(
    *,
    client_id: str = DEFAULT_CLIENT_ID,
    redirect_uri: str = DEFAULT_REDIRECT_URI,
    users: dict[str, SandboxUser] | None = None,
) -> Starlette:
    known = dict(DEFAULT_USERS if users is None else users)
    ledger = Ledger()

    async def authorize(request: Request) -> Response:
        q = request.query_params
        if q.get("client_id") != client_id:
            return PlainTextResponse("unknown client_id", status_code=400)
        if q.get("redirect_uri") != redirect_uri:
            return PlainTextResponse("redirect_uri is not the registered one", status_code=400)
        if q.get("response_type") != "code" or not q.get("state"):
            return PlainTextResponse("response_type=code and state are required", status_code=400)
        if q.get("code_challenge_method", "").lower() != "s256" or not q.get("code_challenge"):
            return PlainTextResponse("PKCE with code_challenge_method=S256 is required", status_code=400)
        device_id = secrets.token_urlsafe(16)
        grant = Grant(
            client_id,
            redirect_uri,
            user_for(known, q.get("user")),
            q["state"],
            q["code_challenge"],
            device_id=device_id,
        )
        code = ledger.issue(grant)
        query = {
            "code": code,
            "state": q["state"],
            "device_id": device_id,
            "type": "code_v2",
            "expires_in": 600,
        }
        return RedirectResponse(f"{redirect_uri}?{urlencode(query)}", status_code=302)

    async def token(request: Request) -> Response:
        form = await form_of(request)
        if form.get("grant_type") != "authorization_code":
            return _refuse("grant_type must be authorization_code", "unsupported_grant_type")
        if form.get("client_id") != client_id:
            return _refuse("unknown client", "invalid_client", 401)
        grant = ledger.redeem(str(form.get("code", "")))
        if grant is None:
            return _refuse("code is invalid, expired or already used")
        if form.get("redirect_uri") != grant.redirect_uri:
            return _refuse("redirect_uri differs from the authorization's")
        if form.get("device_id") != grant.device_id:
            return _refuse("device_id differs from the one issued with the code")
        if grant.state is not None and form.get("state") != grant.state:
            return _refuse("state differs from the authorization's")
        verifier = str(form.get("code_verifier", ""))
        if not verifier or s256(verifier) != grant.challenge:
            return _refuse("code_verifier does not match the code_challenge")
        return JSONResponse(
            {
                "refresh_token": secrets.token_urlsafe(32),
                "access_token": ledger.token_for(grant.user),
                "id_token": "sandbox." + secrets.token_urlsafe(16),
                "token_type": "Bearer",
                "expires_in": 3600,
                "user_id": int(grant.user.id),
                "state": grant.state,
                "scope": SCOPE,
            }
        )

    async def user_info(request: Request) -> Response:
        form = await form_of(request)
        if form.get("client_id") != client_id:
            return _refuse("unknown client", "invalid_client", 401)
        user = ledger.tokens.get(str(form.get("access_token", "")))
        if user is None:
            return _refuse("access token is invalid", "invalid_token", 401)
        return JSONResponse(
            {
                "user": {
                    "user_id": user.id,
                    "first_name": user.first_name,
                    "last_name": user.last_name,
                    "avatar": "",
                    "email": user.email or "",
                    "sex": 0,
                    "verified": False,
                    "birthday": "",
                }
            }
        )

    return Starlette(
        routes=[
            Route("/authorize", authorize, methods=["GET"]),
            Route("/oauth2/auth", token, methods=["POST"]),
            Route("/oauth2/user_info", user_info, methods=["POST"]),
        ]
    )


def app() -> Starlette:
    return create_app(
        client_id=os.environ.get("PAROVOZ_SANDBOX_VK_CLIENT_ID", DEFAULT_CLIENT_ID),
        redirect_uri=os.environ.get("PAROVOZ_SANDBOX_VK_REDIRECT_URI", DEFAULT_REDIRECT_URI),
    )
