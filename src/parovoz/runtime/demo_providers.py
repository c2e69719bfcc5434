"""`parovoz up` with demo data: VK ID, OK and the captcha are played by their sandboxes on the
platform's own port under `/sandbox/<name>/`, so every sign-in path can be tried on one machine.

Only settings the environment leaves unset are filled in: configure a real provider
(`PAROVOZ_AUTH_VK_CLIENT_ID`, `PAROVOZ_AUTH_CAPTCHA_PROVIDER`, …) and the demo uses it instead.
The adapters are the production ones; only their base URLs point here.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from parovoz.chassis.config import Settings
from parovoz.sandboxes import captcha, ok, vk_id

PREFIX = "/sandbox/"
DEMO_CLIENT_ID = "parovoz-demo"
DEMO_OK_SECRET = "parovoz-demo-secret"
DEMO_OK_PUBLIC_KEY = "PAROVOZDEMO"


def _vk_settings(base: str) -> dict[str, str]:
    return {
        "AUTH_VK_CLIENT_ID": DEMO_CLIENT_ID,
        "AUTH_VK_REDIRECT_URI": f"{base}/api/v1/auth/oauth/vk/callback",
        "AUTH_VK_BASE_URL": f"{base}{PREFIX}vk-id",
    }


def _ok_settings(base: str) -> dict[str, str]:
    return {
        "AUTH_OK_CLIENT_ID": DEMO_CLIENT_ID,
        "AUTH_OK_CLIENT_SECRET": DEMO_OK_SECRET,
        "AUTH_OK_PUBLIC_KEY": DEMO_OK_PUBLIC_KEY,
        "AUTH_OK_REDIRECT_URI": f"{base}/api/v1/auth/oauth/ok/callback",
        "AUTH_OK_AUTH_URL": f"{base}{PREFIX}ok",
        "AUTH_OK_API_URL": f"{base}{PREFIX}ok",
    }


def _captcha_settings(base: str) -> dict[str, str]:
    return {
        "AUTH_CAPTCHA_PROVIDER": "yandex",
        "AUTH_CAPTCHA_SECRET": captcha.SANDBOX_SECRET,
        "AUTH_CAPTCHA_SITE_KEY": captcha.SANDBOX_SITE_KEY,
        "AUTH_CAPTCHA_URL": f"{base}{PREFIX}captcha-yandex/validate",
    }


def with_demo_providers(settings: Settings, base: str) -> tuple[Settings, dict[str, Any]]:
    """The settings with every unconfigured provider pointed at its sandbox under `base`, and the
    sandboxes to mount (by name)."""
    env = dict(settings.env)
    mounts: dict[str, Any] = {}
    if not env.get("AUTH_VK_CLIENT_ID"):
        filled = _vk_settings(base)
        env.update(filled)
        redirect_uri = filled["AUTH_VK_REDIRECT_URI"]
        mounts["vk-id"] = vk_id.create_app(client_id=DEMO_CLIENT_ID, redirect_uri=redirect_uri)
    if not env.get("AUTH_OK_CLIENT_ID"):
        filled = _ok_settings(base)
        env.update(filled)
        mounts["ok"] = ok.create_app(
            client_id=DEMO_CLIENT_ID,
            client_secret=DEMO_OK_SECRET,
            public_key=DEMO_OK_PUBLIC_KEY,
            redirect_uri=filled["AUTH_OK_REDIRECT_URI"],
        )
    if not env.get("AUTH_CAPTCHA_PROVIDER"):
        env.update(_captcha_settings(base))
        mounts["captcha-yandex"] = captcha.yandex_app()
    return replace(settings, env=env), mounts


class SandboxMount:
    """ASGI: `/sandbox/<name>/…` to that sandbox (as its root), everything else to `app`."""

    def __init__(self, app: Any, sandboxes: dict[str, Any]) -> None:
        self.app = app
        self.sandboxes = sandboxes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith(PREFIX):
            name = scope["path"][len(PREFIX) :].partition("/")[0]
            sandbox = self.sandboxes.get(name)
            if sandbox is not None:
                root = f"{scope.get('root_path', '')}{PREFIX}{name}"
                await sandbox({**scope, "root_path": root}, receive, send)
                return
        await self.app(scope, receive, send)
