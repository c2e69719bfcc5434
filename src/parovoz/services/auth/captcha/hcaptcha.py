"""hCaptcha: `POST /siteverify` with `secret`, `response`, `remoteip`, `sitekey` (form) →
`{"success": bool, "challenge_ts", "hostname", "credit", "error-codes": [...]}`; a token verifies
once (`already-seen-response` after that)."""

from __future__ import annotations

from dataclasses import dataclass

from parovoz.services.auth.captcha import CaptchaCheck, CaptchaUnavailable
from parovoz.services.auth.captcha.http import DEFAULT_TIMEOUT_S, error_codes, post_form

VERIFY_URL = "https://api.hcaptcha.com/siteverify"
# Our configuration is wrong, not the user's token: no verdict about the user can be had.
OUR_FAULT = frozenset({"missing-input-secret", "invalid-input-secret", "sitekey-secret-mismatch"})


@dataclass
class HCaptcha:
    secret: str
    site_key: str
    url: str = VERIFY_URL
    timeout_s: float = DEFAULT_TIMEOUT_S
    provider: str = "hcaptcha"

    async def verify(self, token: str, remote_ip: str | None) -> CaptchaCheck:
        # sitekey makes hCaptcha refuse tokens solved for another site of ours
        form = {"secret": self.secret, "response": token, "sitekey": self.site_key}
        if remote_ip:
            form["remoteip"] = remote_ip
        body = await post_form(self.url, form, timeout_s=self.timeout_s, provider=self.provider)
        success, codes = body.get("success"), error_codes(body, self.provider)
        if not isinstance(success, bool):
            raise CaptchaUnavailable("hcaptcha: no success flag")
        if OUR_FAULT.intersection(codes):
            raise CaptchaUnavailable(f"hcaptcha: {','.join(codes)}")
        return CaptchaCheck(success, ",".join(codes))
