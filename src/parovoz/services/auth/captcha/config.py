"""Captcha settings (`PAROVOZ_AUTH_CAPTCHA_*`) and the adapter they choose.

- `AUTH_CAPTCHA_PROVIDER`: `yandex` | `hcaptcha` | `recaptcha`; unset = no captcha (the sign-in
  guard falls back to growing delays).
- `AUTH_CAPTCHA_SECRET`, `AUTH_CAPTCHA_SITE_KEY`: the provider's server and site keys (required
  with a provider).
- `AUTH_CAPTCHA_URL`: the verify URL, defaulting to the provider's real one (tests and the demo
  point it at a sandbox of `parovoz.sandboxes.captcha`).
- `AUTH_CAPTCHA_TIMEOUT`: seconds to wait for the provider (default 5); then 503.
- `AUTH_CAPTCHA_MIN_SCORE`: reCAPTCHA v3 score threshold (default 0.5).
- `AUTH_CAPTCHA_ROUTES`: comma-separated routes that always ask for a captcha besides the guarded
  sign-in: `register`, `password-forgot` (default none).
"""

from __future__ import annotations

from dataclasses import dataclass

from parovoz.chassis.config import Settings
from parovoz.services.auth.captcha import CaptchaVerifier
from parovoz.services.auth.captcha.hcaptcha import HCaptcha
from parovoz.services.auth.captcha.http import DEFAULT_TIMEOUT_S
from parovoz.services.auth.captcha.recaptcha import DEFAULT_MIN_SCORE, ReCaptcha
from parovoz.services.auth.captcha.yandex import YandexSmartCaptcha

PROVIDERS = ("yandex", "hcaptcha", "recaptcha")
ROUTES = ("register", "password-forgot")


@dataclass(frozen=True)
class CaptchaConfig:
    provider: str | None = None
    secret: str = ""
    site_key: str = ""
    url: str | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S
    min_score: float = DEFAULT_MIN_SCORE
    routes: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, settings: Settings) -> CaptchaConfig:
        provider = (settings.get("AUTH_CAPTCHA_PROVIDER") or "").strip().lower() or None
        routes = frozenset(
            r.strip().lower() for r in (settings.get("AUTH_CAPTCHA_ROUTES") or "").split(",") if r.strip()
        )
        config = cls(
            provider=provider,
            secret=settings.get("AUTH_CAPTCHA_SECRET") or "",
            site_key=settings.get("AUTH_CAPTCHA_SITE_KEY") or "",
            url=settings.get("AUTH_CAPTCHA_URL") or None,
            timeout_s=_positive(settings, "AUTH_CAPTCHA_TIMEOUT", DEFAULT_TIMEOUT_S),
            min_score=_positive(settings, "AUTH_CAPTCHA_MIN_SCORE", DEFAULT_MIN_SCORE),
            routes=routes,
        )
        if provider is not None and provider not in PROVIDERS:
            raise ValueError(f"PAROVOZ_AUTH_CAPTCHA_PROVIDER must be one of {', '.join(PROVIDERS)}")
        if provider is not None and not (config.secret and config.site_key):
            raise ValueError("PAROVOZ_AUTH_CAPTCHA_SECRET and PAROVOZ_AUTH_CAPTCHA_SITE_KEY are required")
        unknown = routes - set(ROUTES)
        if unknown:
            raise ValueError(f"PAROVOZ_AUTH_CAPTCHA_ROUTES: unknown {sorted(unknown)}; known: {ROUTES}")
        if routes and provider is None:
            raise ValueError("PAROVOZ_AUTH_CAPTCHA_ROUTES needs PAROVOZ_AUTH_CAPTCHA_PROVIDER")
        return config

    def verifier(self) -> CaptchaVerifier | None:
        """The adapter of the configured provider; None when there is none."""
        common = {"secret": self.secret, "site_key": self.site_key, "timeout_s": self.timeout_s}
        if self.url:
            common["url"] = self.url
        if self.provider == "yandex":
            return YandexSmartCaptcha(**common)  # type: ignore[arg-type]
        if self.provider == "hcaptcha":
            return HCaptcha(**common)  # type: ignore[arg-type]
        if self.provider == "recaptcha":
            return ReCaptcha(**common, min_score=self.min_score)  # type: ignore[arg-type]
        return None


def _positive(settings: Settings, name: str, default: float) -> float:
    raw = settings.get(name)
    try:
        value = float(raw) if raw not in (None, "") else default
    except ValueError:
        raise ValueError(f"PAROVOZ_{name} must be a number") from None
    if value <= 0:
        raise ValueError(f"PAROVOZ_{name} must be positive")
    return value
