"""The sign-in guard of one service context (its store, the configured captcha), made once."""

from __future__ import annotations

from parovoz.chassis.service import ServiceContext
from parovoz.services.auth.captcha.config import CaptchaConfig
from parovoz.services.auth.domain.sign_in_guard import SignInGuard
from parovoz.services.auth.sign_in_failures import SignInFailureStore
from parovoz.services.auth.wiring import components

_EXTRAS_KEY = "auth.sign_in_guard"


def sign_in_guard(ctx: ServiceContext) -> SignInGuard:
    found = ctx.extras.get(_EXTRAS_KEY)
    if found is None:
        captcha = CaptchaConfig.from_settings(ctx.settings)
        found = ctx.extras[_EXTRAS_KEY] = SignInGuard(
            SignInFailureStore(ctx.db),
            ctx.limiter,
            captcha.verifier(),
            login_rate_per_min=components(ctx).config.login_id_rate_per_min,
            captcha_routes=captcha.routes,
        )
    return found
