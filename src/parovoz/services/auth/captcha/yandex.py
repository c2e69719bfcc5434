"""Yandex SmartCaptcha: `POST /validate` with `secret`, `token`, `ip` (form) →
`{"status": "ok" | "failed", "message": "...", "host": "..."}`; a token validates once and lives
five minutes (a reused one answers `failed`, "Invalid or expired Token.")."""

from __future__ import annotations

from dataclasses import dataclass

from parovoz.services.auth.captcha import CaptchaCheck, CaptchaUnavailable
from parovoz.services.auth.captcha.http import DEFAULT_TIMEOUT_S, post_form

VERIFY_URL = "https://smartcaptcha.yandexcloud.net/validate"


@dataclass
class YandexSmartCaptcha:
    secret: str
    site_key: str
    url: str = VERIFY_URL
    timeout_s: float = DEFAULT_TIMEOUT_S
    provider: str = "yandex"

    async def verify(self, token: str, remote_ip: str | None) -> CaptchaCheck:
        form = {"secret": self.secret, "token": token}
        if remote_ip:
            form["ip"] = remote_ip
        # A wrong secret is answered with an HTTP error, which post_form turns into unavailability.
        body = await post_form(self.url, form, timeout_s=self.timeout_s, provider=self.provider)
        status, message = body.get("status"), body.get("message", "")
        if status == "ok":
            return CaptchaCheck(True)
        if status == "failed":
            return CaptchaCheck(False, str(message))
        raise CaptchaUnavailable(f"yandex: unexpected status {status!r}")
