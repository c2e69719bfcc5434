"""Local sandbox servers that play the external systems we cannot reach from here (OAuth and
captcha providers, later payment providers, OFD, SMS, push). Each speaks its provider's real
protocol on HTTP, so the production adapter is exercised unchanged: only its base URL differs.

`SANDBOXES` maps a sandbox's name to "module:factory"; the factory takes no arguments and returns
an ASGI app. `parovoz sandbox NAME --port N` serves one; tests start them on free ports.
"""

from __future__ import annotations

import importlib
from typing import Any

SANDBOXES: dict[str, str] = {}
# the captcha providers' verify endpoints (sandboxes/captcha.py)
SANDBOXES.update(
    {
        "captcha-yandex": "parovoz.sandboxes.captcha:yandex_app",
        "captcha-hcaptcha": "parovoz.sandboxes.captcha:hcaptcha_app",
        "captcha-recaptcha": "parovoz.sandboxes.captcha:recaptcha_app",
    }
)
# the OAuth providers of external sign-in (sandboxes/vk_id.py, sandboxes/ok.py)
SANDBOXES.update({"vk-id": "parovoz.sandboxes.vk_id:app", "ok": "parovoz.sandboxes.ok:app"})


def sandbox_app(name: str) -> Any:
    """The ASGI app of the sandbox called `name` (KeyError when there is none)."""
    module_name, _, factory = SANDBOXES[name].partition(":")
    return getattr(importlib.import_module(module_name), factory)()
