"""Settings of external sign-in (`PAROVOZ_AUTH_VK_*`, `_OK_*`, `_TELEGRAM_*`) and the adapters
they make. A provider without its settings is simply not offered (503 at its routes)."""

from __future__ import annotations

from dataclasses import dataclass, field

from parovoz.chassis.config import Settings
from parovoz.services.auth.domain.external import OK, VK
from parovoz.services.auth.oauth import OAuthClient
from parovoz.services.auth.oauth.ok import DEFAULT_API_URL, DEFAULT_AUTH_URL, OkClient
from parovoz.services.auth.oauth.vk import DEFAULT_BASE_URL, VkIdClient

STATE_TTL_S = 10 * 60


@dataclass(frozen=True)
class ExternalConfig:
    clients: dict[str, OAuthClient] = field(default_factory=dict)
    telegram_bot_token: str | None = None
    state_ttl_s: int = STATE_TTL_S

    @classmethod
    def from_settings(cls, settings: Settings) -> ExternalConfig:
        def get(name: str) -> str:
            return (settings.get(f"AUTH_{name}") or "").strip()

        clients: dict[str, OAuthClient] = {}
        if get("VK_CLIENT_ID") and get("VK_REDIRECT_URI"):
            clients[VK] = VkIdClient(
                client_id=get("VK_CLIENT_ID"),
                redirect_uri=get("VK_REDIRECT_URI"),
                base_url=get("VK_BASE_URL") or DEFAULT_BASE_URL,
            )
        if all(get(n) for n in ("OK_CLIENT_ID", "OK_CLIENT_SECRET", "OK_PUBLIC_KEY", "OK_REDIRECT_URI")):
            clients[OK] = OkClient(
                client_id=get("OK_CLIENT_ID"),
                client_secret=get("OK_CLIENT_SECRET"),
                public_key=get("OK_PUBLIC_KEY"),
                redirect_uri=get("OK_REDIRECT_URI"),
                auth_url=get("OK_AUTH_URL") or DEFAULT_AUTH_URL,
                api_url=get("OK_API_URL") or DEFAULT_API_URL,
            )
        return cls(clients=clients, telegram_bot_token=get("TELEGRAM_BOT_TOKEN") or None)
