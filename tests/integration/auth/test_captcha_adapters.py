"""Each captcha adapter against its provider's sandbox served over real HTTP: a solved token
passes once, a reused or unknown one fails, a wrong secret, a slow or a failing provider make it
unavailable (the caller fails closed)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from parovoz.chassis.config import Settings
from parovoz.sandboxes import sandbox_app
from parovoz.sandboxes.captcha import SANDBOX_SECRET, SANDBOX_SITE_KEY
from parovoz.services.auth.captcha import CaptchaUnavailable, CaptchaVerifier
from parovoz.services.auth.captcha.config import CaptchaConfig
from parovoz.services.auth.captcha.hcaptcha import HCaptcha
from parovoz.services.auth.captcha.recaptcha import ReCaptcha
from parovoz.services.auth.captcha.yandex import YandexSmartCaptcha
from tests.servers import ServedApp


@dataclass(frozen=True)
class Provider:
    sandbox: str
    path: str
    adapter: Callable[..., Any]


PROVIDERS = {
    "yandex": Provider("captcha-yandex", "/validate", YandexSmartCaptcha),
    "hcaptcha": Provider("captcha-hcaptcha", "/siteverify", HCaptcha),
    "recaptcha": Provider("captcha-recaptcha", "/recaptcha/api/siteverify", ReCaptcha),
}


@pytest.fixture(scope="module", params=sorted(PROVIDERS))
def served(request: pytest.FixtureRequest) -> Iterator[tuple[Provider, str]]:
    provider = PROVIDERS[request.param]
    with ServedApp(sandbox_app(provider.sandbox)) as app:
        yield provider, app.url + provider.path


def adapter(served: tuple[Provider, str], *, secret: str = SANDBOX_SECRET, timeout_s: float = 5.0) -> Any:
    provider, url = served
    return provider.adapter(secret=secret, site_key=SANDBOX_SITE_KEY, url=url, timeout_s=timeout_s)


async def test_a_solved_token_passes_once(served: tuple[Provider, str]) -> None:
    captcha = adapter(served)
    first = await captcha.verify("pass-once-1", "203.0.113.5")
    assert first.ok
    again = await captcha.verify("pass-once-1", "203.0.113.5")
    assert not again.ok  # tokens are single-use, as the real ones
    assert again.reason  # the provider's words, for the log


async def test_an_unsolved_token_fails(served: tuple[Provider, str]) -> None:
    check = await adapter(served).verify("made-up-by-a-bot", None)
    assert not check.ok


async def test_a_wrong_secret_is_our_fault_not_the_users(served: tuple[Provider, str]) -> None:
    with pytest.raises(CaptchaUnavailable):
        await adapter(served, secret="not-the-secret").verify("pass-wrong-secret", "203.0.113.5")


async def test_a_slow_provider_times_out_as_unavailable(served: tuple[Provider, str]) -> None:
    with pytest.raises(CaptchaUnavailable):
        await adapter(served, timeout_s=0.3).verify("slow-1", None)


async def test_a_failing_provider_is_unavailable(served: tuple[Provider, str]) -> None:
    with pytest.raises(CaptchaUnavailable):
        await adapter(served).verify("down-1", None)


async def test_an_unreachable_provider_is_unavailable(served: tuple[Provider, str]) -> None:
    provider, _ = served
    captcha = provider.adapter(
        secret=SANDBOX_SECRET, site_key=SANDBOX_SITE_KEY, url="http://127.0.0.1:9/x", timeout_s=1.0
    )
    with pytest.raises(CaptchaUnavailable):
        await captcha.verify("pass-unreachable", None)


async def test_recaptcha_v3_refuses_a_score_below_the_threshold() -> None:
    with ServedApp(sandbox_app("captcha-recaptcha")) as app:
        url = app.url + "/recaptcha/api/siteverify"
        strict = ReCaptcha(secret=SANDBOX_SECRET, site_key=SANDBOX_SITE_KEY, url=url, min_score=0.5)
        lenient = ReCaptcha(secret=SANDBOX_SECRET, site_key=SANDBOX_SITE_KEY, url=url, min_score=0.05)
        assert not (await strict.verify("low-1", None)).ok
        assert (await lenient.verify("low-2", None)).ok


async def test_settings_choose_the_adapter_and_default_to_the_real_urls() -> None:
    def config(**env: str) -> CaptchaConfig:
        return CaptchaConfig.from_settings(
            Settings.from_env({f"PAROVOZ_AUTH_CAPTCHA_{k}": v for k, v in env.items()})
        )

    assert config().verifier() is None
    yandex: CaptchaVerifier | None = config(PROVIDER="yandex", SECRET="s", SITE_KEY="k").verifier()
    assert isinstance(yandex, YandexSmartCaptcha)
    assert yandex.url == "https://smartcaptcha.yandexcloud.net/validate"
    assert isinstance(config(PROVIDER="hcaptcha", SECRET="s", SITE_KEY="k").verifier(), HCaptcha)
    recaptcha = config(
        PROVIDER="recaptcha", SECRET="s", SITE_KEY="k", MIN_SCORE="0.7", URL="http://x/"
    ).verifier()
    assert isinstance(recaptcha, ReCaptcha)
    assert (recaptcha.url, recaptcha.min_score) == ("http://x/", 0.7)
    for bad in (
        {"PROVIDER": "capcha-farm", "SECRET": "s", "SITE_KEY": "k"},
        {"PROVIDER": "yandex"},
        {"PROVIDER": "yandex", "SECRET": "s", "SITE_KEY": "k", "ROUTES": "login"},
        {"ROUTES": "register"},
        {"PROVIDER": "yandex", "SECRET": "s", "SITE_KEY": "k", "TIMEOUT": "-1"},
    ):
        with pytest.raises(ValueError):
            config(**bad)
