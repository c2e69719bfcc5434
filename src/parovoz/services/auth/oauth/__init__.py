"""Adapters of the OAuth providers we sign in with (VK ID, Odnoklassniki): one small protocol.

Each speaks its provider's real protocol over httpx (timeouts, TLS verified, redirects never
followed) and validates every answer: a refusal is 401 OAUTH_EXCHANGE_FAILED, anything malformed
or unreachable 502 OAUTH_PROVIDER_ERROR. Provider tokens live only for the sign-in: never stored.
"""

from __future__ import annotations

from typing import Protocol

from parovoz.services.auth.domain.external import ExternalProfile


class OAuthClient(Protocol):
    name: str  # "vk" | "ok"
    redirect_uri: str  # exactly as registered with the provider

    def authorize_url(self, *, state: str, code_challenge: str) -> str:
        """Where the browser goes to approve us (S256 PKCE challenge, the exact redirect URI)."""

    async def profile(
        self, *, code: str, code_verifier: str, device_id: str | None, state: str
    ) -> ExternalProfile:
        """Exchange the code (with the PKCE verifier) and fetch who the user is."""

    async def aclose(self) -> None: ...
