"""Odnoklassniki (OK.ru) server OAuth and the REST API's signed calls.

- authorize: GET {auth}/oauth/authorize?client_id&scope&response_type=code&redirect_uri&layout=w
  &state (we add RFC 7636's code_challenge/S256 as well: a server without PKCE ignores it).
- exchange: POST {api}/oauth/token.do code, client_id, client_secret, redirect_uri,
  grant_type=authorization_code (+ code_verifier) → {access_token, token_type: "session",
  refresh_token, expires_in}; a refusal is {"error": …, "error_description": …} (often with 200).
- user: GET {api}/fb.do?method=users.getCurrentUser&application_key&fields&format=json
  &access_token&sig, sig = md5(sorted "k=v" of every parameter but access_token and sig, joined
  with nothing, + md5(access_token + client_secret)), lower-case hex. Errors: {"error_code", …}.

OK does not tell whether the e-mail it returns was confirmed: never taken as verified.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from urllib.parse import urlencode

import httpx

from parovoz.services.auth.domain import external_errors
from parovoz.services.auth.domain.external import OK, ExternalProfile
from parovoz.services.auth.oauth.http import call, profile_from, provider_http, text

DEFAULT_AUTH_URL = "https://connect.ok.ru"
DEFAULT_API_URL = "https://api.ok.ru"
DEFAULT_SCOPE = "VALUABLE_ACCESS;GET_EMAIL"
PROFILE_FIELDS = "uid,first_name,last_name,email"


def signature(params: Mapping[str, str], access_token: str, client_secret: str) -> str:
    """OK's `sig` of a call in a user's session."""
    session_secret = hashlib.md5((access_token + client_secret).encode("utf-8")).hexdigest().lower()
    signed = "".join(
        f"{k}={params[k]}" for k in sorted(params) if k not in {"sig", "access_token", "session_key"}
    )
    return hashlib.md5((signed + session_secret).encode("utf-8")).hexdigest().lower()


class OkClient:
    name = OK

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        public_key: str,
        redirect_uri: str,
        auth_url: str = DEFAULT_AUTH_URL,
        api_url: str = DEFAULT_API_URL,
        scope: str = DEFAULT_SCOPE,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.public_key = public_key
        self.redirect_uri = redirect_uri
        self.auth_url = auth_url.rstrip("/")
        self.api_url = api_url.rstrip("/")
        self.scope = scope
        self.http = http or provider_http()

    def authorize_url(self, *, state: str, code_challenge: str) -> str:
        query = {
            "client_id": self.client_id,
            "scope": self.scope,
            "response_type": "code",
            "redirect_uri": self.redirect_uri,
            "layout": "w",
            "state": state,
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
        }
        return f"{self.auth_url}/oauth/authorize?{urlencode(query)}"

    async def profile(
        self, *, code: str, code_verifier: str, device_id: str | None, state: str
    ) -> ExternalProfile:
        # form body rather than the documented query string: the secret stays out of access logs
        status, body = await call(
            self.http,
            "POST",
            f"{self.api_url}/oauth/token.do",
            data={
                "code": code,
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "redirect_uri": self.redirect_uri,
                "grant_type": "authorization_code",
                "code_verifier": code_verifier,
            },
        )
        if "error" in body or status >= 400:
            if status >= 500:
                raise external_errors.provider_error()
            raise external_errors.exchange_failed()
        access_token = text(body, "access_token") or ""
        params = {
            "application_key": self.public_key,
            "fields": PROFILE_FIELDS,
            "format": "json",
            "method": "users.getCurrentUser",
        }
        params["sig"] = signature(params, access_token, self.client_secret)
        params["access_token"] = access_token
        status, user = await call(self.http, "GET", f"{self.api_url}/fb.do?{urlencode(params)}")
        if status >= 400 or "error_code" in user:
            raise external_errors.provider_error()
        return profile_from(OK, text(user, "uid", max_len=64), user)

    async def aclose(self) -> None:
        await self.http.aclose()
