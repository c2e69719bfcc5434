"""Captcha verification: one protocol, three adapters, each speaking its provider's real API.

- `yandex` — Yandex SmartCaptcha (`POST https://smartcaptcha.yandexcloud.net/validate`). The
  default choice under 152-FZ: the check (with the user's IP address) stays in Russia.
- `hcaptcha` — hCaptcha (`POST https://api.hcaptcha.com/siteverify`).
- `recaptcha` — Google reCAPTCHA v2/v3 (`POST https://www.google.com/recaptcha/api/siteverify`).
  hCaptcha and reCAPTCHA send the user's IP address abroad (a cross-border transfer of personal
  data under 152-FZ): choose them only where that is covered by the privacy policy.

Every adapter posts a form over httpx with a timeout, TLS verified and redirects not followed, and
validates the answer's shape. A token that the provider refuses is `CaptchaCheck(ok=False)`; a
provider that cannot be asked (down, slow, answering nonsense, or refusing our secret — a
misconfiguration the user cannot fix) raises `CaptchaUnavailable`, and callers fail closed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

# Tokens run to a few KiB (hCaptcha's are the longest); anything beyond this is not a token.
CAPTCHA_TOKEN_MAX = 8192


class CaptchaUnavailable(Exception):
    """The provider could not give a verdict (network, timeout, HTTP error, bad answer, bad secret)."""


@dataclass(frozen=True)
class CaptchaCheck:
    ok: bool
    # the provider's own words for a refusal (error codes, message): for logs, never for clients
    reason: str = ""


class CaptchaVerifier(Protocol):
    provider: str  # "yandex" | "hcaptcha" | "recaptcha": what the client renders
    site_key: str  # the public key the client's widget needs

    async def verify(self, token: str, remote_ip: str | None) -> CaptchaCheck:
        """Ask the provider about a token once (tokens are single-use); raises `CaptchaUnavailable`."""
        ...
