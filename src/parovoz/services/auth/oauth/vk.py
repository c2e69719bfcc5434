"""VK ID (OAuth 2.1, id.vk.com): authorization code with mandatory PKCE S256 and `device_id`.

- authorize: GET {base}/authorize?response_type=code&client_id&redirect_uri&state&code_challenge
  &code_challenge_method=S256&scope — VK redirects back with `code`, `state` and `device_id`.
- exchange: POST {base}/oauth2/auth (form) grant_type=authorization_code, code, code_verifier,
  client_id, device_id, redirect_uri, state → {access_token, refresh_token, id_token, user_id, …};
  a refusal is {"error": "invalid_grant", "error_description": …}.
- user: POST {base}/oauth2/user_info (form) client_id, access_token → {"user": {"user_id",
  "first_name", "last_name", "email", …}}.

VK ID says nothing about whether the e-mail it returns was confirmed, so it is never taken as a
verified address (the user gets a placeholder; the address is kept with the identity).
"""

from __future__ import annotations

from urllib.parse import urlencode

import httpx

from parovoz.services.auth.domain import external_errors
from parovoz.services.auth.domain.external import VK, ExternalProfile
from parovoz.services.auth.oauth.http import call, profile_from, provider_http, text

DEFAULT_BASE_URL = "https://id.vk.com"
# the basic profile (names) and the e-mail address; VK ID's default alone is vkid.personal_info
DEFAULT_SCOPE = "vkid.personal_info email"


class VkIdClient:
    name = VK

    def __init__(
        self,
        *,
        client_id: str,
        redirect_uri: str,
        base_url: str = DEFAULT_BASE_URL,
        scope: str = DEFAULT_SCOPE,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.client_id = client_id
        self.redirect_uri = redirect_uri
        self.base_url = base_url.rstrip("/")
        self.scope = scope
        self.http = http or provider_http()

    def authorize_url(self, *, state: str, code_challenge: str) -> str:
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "state": state,
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
            "scope": self.scope,
        }
        return f"{self.base_url}/authorize?{urlencode(query)}"

    async def profile(
        self, *, code: str, code_verifier: str, device_id: str | None, state: str
    ) -> ExternalProfile:
        if not device_id:
            # VK returns it with every code; without it the exchange cannot succeed
            raise external_errors.exchange_failed()
        status, body = await call(
            self.http,
            "POST",
            f"{self.base_url}/oauth2/auth",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "code_verifier": code_verifier,
                "client_id": self.client_id,
                "device_id": device_id,
                "redirect_uri": self.redirect_uri,
                "state": state,
            },
        )
        if "error" in body or status >= 400:
            if status >= 500:
                raise external_errors.provider_error()
            raise external_errors.exchange_failed()
        access_token = text(body, "access_token")
        token_user = text(body, "user_id")
        status, body = await call(
            self.http,
            "POST",
            f"{self.base_url}/oauth2/user_info",
            data={"client_id": self.client_id, "access_token": access_token},
        )
        user = body.get("user")
        if status >= 400 or "error" in body or not isinstance(user, dict):
            raise external_errors.provider_error()
        user_id = text(user, "user_id", max_len=64)
        if user_id != token_user:
            raise external_errors.provider_error()  # the token's user and the profile's disagree
        return profile_from(VK, user_id, user)

    async def aclose(self) -> None:
        await self.http.aclose()
