"""Sandbox of Odnoklassniki's server OAuth and REST API: `parovoz sandbox ok --port N`.

- GET /oauth/authorize: client_id, scope, response_type=code, redirect_uri (must equal the
  registered one, its query part aside, as OK checks it), state; optional RFC 7636 PKCE
  (code_challenge, S256). Auto-approves the user named by `user=` (default "ivan") and redirects
  with code and state.
- POST /oauth/token.do (query or form): code (single-use), client_id, client_secret,
  redirect_uri, grant_type=authorization_code [, code_verifier when a challenge was given] →
  {access_token, token_type: "session", refresh_token, expires_in}; a refusal is 200 with
  {"error", "error_description"}, as OK answers.
- GET|POST /fb.do?method=users.getCurrentUser (or /api/users/getCurrentUser): application_key,
  access_token and sig = md5(sorted k=v of the other parameters + md5(access_token + secret));
  errors are {"error_code", "error_msg", "error_data"}.

Configured by constructor or PAROVOZ_SANDBOX_OK_CLIENT_ID / _CLIENT_SECRET / _PUBLIC_KEY /
_REDIRECT_URI.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from parovoz.sandboxes._oauth import DEFAULT_USERS, Grant, Ledger, SandboxUser, form_of, s256, user_for

DEFAULT_CLIENT_ID = "512000000001"
DEFAULT_CLIENT_SECRET = "SANDBOXOKSECRET0123456789"
DEFAULT_PUBLIC_KEY = "CSANDBOXOKPUBLICKEY"
DEFAULT_REDIRECT_URI = "http://127.0.0.1:8000/api/v1/auth/oauth/ok/callback"


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest().lower()


def _api_error(code: int, message: str) -> Response:
    return JSONResponse({"error_code": code, "error_msg": message, "error_data": None})


def create_app(
    *,
    client_id: str = DEFAULT_CLIENT_ID,
    client_secret: str = DEFAULT_CLIENT_SECRET,
    public_key: str = DEFAULT_PUBLIC_KEY,
    redirect_uri: str = DEFAULT_REDIRECT_URI,
    users: dict[str, SandboxUser] | None = None,
) -> Starlette:
    known = dict(DEFAULT_USERS if users is None else users)
    ledger = Ledger()

    async def params_of(request: Request) -> dict[str, str]:
        found = {k: str(v) for k, v in request.query_params.items()}
        if request.method == "POST":
            found.update({k: str(v) for k, v in (await form_of(request)).items()})
        return found

    async def authorize(request: Request) -> Response:
        q = request.query_params
        if q.get("client_id") != client_id:
            return PlainTextResponse("unknown client_id", status_code=400)
        if q.get("redirect_uri", "").split("?", 1)[0] != redirect_uri.split("?", 1)[0]:
            return PlainTextResponse("redirect_uri is not the registered one", status_code=400)
        if q.get("response_type") != "code" or not q.get("scope"):
            return PlainTextResponse("response_type=code and scope are required", status_code=400)
        challenge = q.get("code_challenge")
        if challenge and q.get("code_challenge_method", "").lower() != "s256":
            return PlainTextResponse("only code_challenge_method=S256 is supported", status_code=400)
        grant = Grant(client_id, q["redirect_uri"], user_for(known, q.get("user")), q.get("state"), challenge)
        query = {"code": ledger.issue(grant)}
        if grant.state is not None:
            query["state"] = grant.state
        return RedirectResponse(f"{q['redirect_uri']}?{urlencode(query)}", status_code=302)

    async def token(request: Request) -> Response:
        p = await params_of(request)
        refuse = {"error": "invalid_grant", "error_description": ""}
        if p.get("grant_type") != "authorization_code":
            return JSONResponse({**refuse, "error_description": "grant_type must be authorization_code"})
        if p.get("client_id") != client_id or p.get("client_secret") != client_secret:
            return JSONResponse({"error": "invalid_client", "error_description": "bad client credentials"})
        grant = ledger.redeem(p.get("code", ""))
        if grant is None:
            return JSONResponse({**refuse, "error_description": "code is invalid, expired or used"})
        if p.get("redirect_uri") != grant.redirect_uri:
            return JSONResponse({**refuse, "error_description": "redirect_uri mismatch"})
        if grant.challenge is not None and s256(p.get("code_verifier", "")) != grant.challenge:
            return JSONResponse({**refuse, "error_description": "code_verifier does not match"})
        return JSONResponse(
            {
                "access_token": ledger.token_for(grant.user),
                "token_type": "session",
                "refresh_token": secrets.token_urlsafe(24),
                "expires_in": "1800",
            }
        )

    async def current_user(request: Request) -> Response:
        p = await params_of(request)
        if request.url.path.endswith("/fb.do") and p.get("method") != "users.getCurrentUser":
            return _api_error(3, "METHOD : the sandbox knows users.getCurrentUser only")
        if p.get("application_key") != public_key:
            return _api_error(101, "PARAM_API_KEY : unknown application_key")
        access_token = p.get("access_token", "")
        user = ledger.tokens.get(access_token)
        if user is None:
            return _api_error(102, "PARAM_SESSION_EXPIRED : session expired or invalid")
        signed = "".join(f"{k}={p[k]}" for k in sorted(p) if k not in {"sig", "access_token", "session_key"})
        if p.get("sig", "").lower() != _md5(signed + _md5(access_token + client_secret)):
            return _api_error(104, "PARAM_SIGNATURE : invalid signature")
        answer = {
            "uid": user.id,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "name": f"{user.first_name} {user.last_name}",
        }
        if user.email:
            answer["email"] = user.email
        return JSONResponse(answer)

    return Starlette(
        routes=[
            Route("/oauth/authorize", authorize, methods=["GET"]),
            Route("/oauth/token.do", token, methods=["POST"]),
            Route("/fb.do", current_user, methods=["GET", "POST"]),
            Route("/api/users/getCurrentUser", current_user, methods=["GET", "POST"]),
        ]
    )


def app() -> Starlette:
    env = os.environ.get
    return create_app(
        client_id=env("PAROVOZ_SANDBOX_OK_CLIENT_ID", DEFAULT_CLIENT_ID),
        client_secret=env("PAROVOZ_SANDBOX_OK_CLIENT_SECRET", DEFAULT_CLIENT_SECRET),
        public_key=env("PAROVOZ_SANDBOX_OK_PUBLIC_KEY", DEFAULT_PUBLIC_KEY),
        redirect_uri=env("PAROVOZ_SANDBOX_OK_REDIRECT_URI", DEFAULT_REDIRECT_URI),
    )
