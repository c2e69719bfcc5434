"""Google reCAPTCHA (v2 and v3): `POST /recaptcha/api/siteverify` with `secret`, `response`,
`remoteip` (form) → `{"success": bool, "challenge_ts", "hostname", "score"? (v3), "action"? (v3),
"error-codes"?}`; a token verifies once within two minutes (`timeout-or-duplicate` after)."""

from __future__ import annotations

from dataclasses import dataclass

from parovoz.services.auth.captcha import CaptchaCheck, CaptchaUnavailable
from parovoz.services.auth.captcha.http import DEFAULT_TIMEOUT_S, error_codes, post_form

VERIFY_URL = "https://www.google.com/recaptcha/api/siteverify"
OUR_FAULT = frozenset({"missing-input-secret", "invalid-input-secret"})
# Google's suggested starting threshold for v3 scores (0.0 = a bot, 1.0 = a human).
DEFAULT_MIN_SCORE = 0.5


@dataclass
class ReCaptcha:
    secret: str
    site_key: str
    url: str = VERIFY_URL
    timeout_s: float = DEFAULT_TIMEOUT_S
    min_score: float = DEFAULT_MIN_SCORE
    provider: str = "recaptcha"

    async def verify(self, token: str, remote_ip: str | None) -> CaptchaCheck:
        form = {"secret": self.secret, "response": token}
        if remote_ip:
            form["remoteip"] = remote_ip
        body = await post_form(self.url, form, timeout_s=self.timeout_s, provider=self.provider)
        success, codes = body.get("success"), error_codes(body, self.provider)
        if not isinstance(success, bool):
            raise CaptchaUnavailable("recaptcha: no success flag")
        if OUR_FAULT.intersection(codes):
            raise CaptchaUnavailable(f"recaptcha: {','.join(codes)}")
        if not success:
            return CaptchaCheck(False, ",".join(codes))
        score = body.get("score")  # v3 only; a v2 checkbox has none
        if score is not None:
            if isinstance(score, bool) or not isinstance(score, int | float):
                raise CaptchaUnavailable("recaptcha: malformed score")
            if score < self.min_score:
                return CaptchaCheck(False, f"score {score} below {self.min_score}")
        return CaptchaCheck(True)
