"""The sign-in guard's policy as pure functions of the counts and a clock, and the guard's use of
its store, rate limiter and captcha (fakes here; the real ones in tests/integration/auth)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from parovoz.chassis.errors import ApiError
from parovoz.chassis.security.ratelimit import MemoryRateLimiter
from parovoz.services.auth.captcha import CaptchaCheck, CaptchaUnavailable
from parovoz.services.auth.domain import errors
from parovoz.services.auth.domain.sign_in_guard import (
    NO_FAILURES,
    Failures,
    GuardPolicy,
    Need,
    SignInGuard,
    delay_s,
    ip_key,
    judge,
    login_key,
)

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
POLICY = GuardPolicy()


def failures(
    recent: int, *, hourly: int | None = None, last_ago_s: float = 0, first_ago_s: float = 0
) -> Failures:
    return Failures(
        recent=recent,
        hourly=recent if hourly is None else hourly,
        first_at=NOW - timedelta(seconds=first_ago_s or last_ago_s),
        last_at=NOW - timedelta(seconds=last_ago_s),
    )


def test_delays_double_from_the_fifth_failure_up_to_the_cap() -> None:
    assert [delay_s(n, 5, 900) for n in range(0, 8)] == [0, 0, 0, 0, 0, 1, 2, 4]
    assert delay_s(14, 5, 900) == 512
    assert delay_s(15, 5, 900) == 900
    assert delay_s(10_000, 5, 900) == 900  # no giant powers of two


def test_four_failures_admit_the_fifth_gets_a_captcha_or_a_delay() -> None:
    assert judge(failures(4), NO_FAILURES, NOW, captcha=True, policy=POLICY).need is Need.NOTHING
    assert judge(failures(4), NO_FAILURES, NOW, captcha=False, policy=POLICY).need is Need.NOTHING
    assert judge(failures(5), NO_FAILURES, NOW, captcha=True, policy=POLICY).need is Need.CAPTCHA
    delayed = judge(failures(5), NO_FAILURES, NOW, captcha=False, policy=POLICY)
    assert (delayed.need, delayed.retry_after) == (Need.WAIT, 1)


def test_the_delay_runs_from_the_last_failure_and_ends() -> None:
    verdict = judge(failures(8, last_ago_s=3), NO_FAILURES, NOW, captcha=False, policy=POLICY)
    assert (verdict.need, verdict.retry_after) == (Need.WAIT, 5)  # 2^3 = 8 s after the last one
    after = judge(failures(8, last_ago_s=8), NO_FAILURES, NOW, captcha=False, policy=POLICY)
    assert after.need is Need.NOTHING


def test_the_delay_never_exceeds_fifteen_minutes() -> None:
    verdict = judge(failures(40), NO_FAILURES, NOW, captcha=False, policy=POLICY)
    assert verdict.retry_after == 900


def test_a_hundred_failures_an_hour_wait_for_the_window_to_slide_even_with_a_captcha() -> None:
    capped = failures(3, hourly=100, first_ago_s=3000, last_ago_s=10)
    for captcha in (True, False):
        verdict = judge(capped, NO_FAILURES, NOW, captcha=captcha, policy=POLICY)
        assert (verdict.need, verdict.retry_after) == (Need.WAIT, 600)
    slid = failures(3, hourly=99, first_ago_s=3000, last_ago_s=10)
    assert judge(slid, NO_FAILURES, NOW, captcha=True, policy=POLICY).need is Need.NOTHING


def test_an_address_failing_across_many_logins_needs_a_captcha_or_waits_a_minute_at_most() -> None:
    assert judge(NO_FAILURES, failures(19), NOW, captcha=True, policy=POLICY).need is Need.NOTHING
    assert judge(NO_FAILURES, failures(20), NOW, captcha=True, policy=POLICY).need is Need.CAPTCHA
    verdict = judge(NO_FAILURES, failures(60), NOW, captcha=False, policy=POLICY)
    assert (verdict.need, verdict.retry_after) == (Need.WAIT, 60)


def test_the_login_key_normalises_like_the_account_lookup_and_differs_from_the_address_key() -> None:
    assert login_key("  Player@Example.RU ") == login_key("player@example.ru")
    assert login_key("Player_One") == login_key("player_one")
    assert login_key("player@example.ru") != login_key("player_one")
    assert login_key("203.0.113.7") != ip_key("203.0.113.7")
    assert len(login_key("x")) == 32


class FakeStore:
    def __init__(self) -> None:
        self.rows: list[tuple[bytes, datetime]] = []
        self.reads = 0

    async def read(
        self, login_key: bytes, ip_key: bytes, *, recent_since: datetime, hour_since: datetime
    ) -> tuple[Failures, Failures]:
        self.reads += 1

        def of(key: bytes) -> Failures:
            times = sorted(at for k, at in self.rows if k == key and at > hour_since)
            if not times:
                return NO_FAILURES
            return Failures(sum(at > recent_since for at in times), len(times), times[0], times[-1])

        return of(login_key), of(ip_key)

    async def record(self, login_key: bytes, ip_key: bytes, at: datetime) -> None:
        self.rows += [(login_key, at), (ip_key, at)]

    async def clear(self, login_key: bytes) -> None:
        self.rows = [(k, at) for k, at in self.rows if k != login_key]

    async def purge(self, before: datetime) -> int:
        return 0


class FakeCaptcha:
    provider = "yandex"
    site_key = "site-key"

    def __init__(self) -> None:
        self.asked: list[tuple[str, str | None]] = []
        self.down = False

    async def verify(self, token: str, remote_ip: str | None) -> CaptchaCheck:
        self.asked.append((token, remote_ip))
        if self.down:
            raise CaptchaUnavailable("down")
        return CaptchaCheck(token.startswith("pass-"), "nope")


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def make_guard(captcha: FakeCaptcha | None, *, rate: int = 1000) -> tuple[SignInGuard, FakeStore, Clock]:
    store, clock = FakeStore(), Clock()
    guard = SignInGuard(
        store,
        MemoryRateLimiter(),
        captcha,
        login_rate_per_min=rate,
        captcha_routes=frozenset({"register"}),
        clock=clock,
    )
    return guard, store, clock


async def fail(
    guard: SignInGuard, login: str = "victim@example.ru", ip: str = "203.0.113.1", token=None
) -> None:
    with pytest.raises(ApiError) as caught:
        async with guard.attempt(login, ip, token):
            raise errors.invalid_credentials()
    assert caught.value.code == "INVALID_CREDENTIALS"


async def code_of(
    guard: SignInGuard, login: str = "victim@example.ru", ip: str = "203.0.113.1", token=None
) -> str:
    try:
        async with guard.attempt(login, ip, token):
            pass
    except ApiError as exc:
        return exc.code
    return "OK"


async def test_captcha_after_five_failures_and_the_owner_passes_with_one() -> None:
    captcha = FakeCaptcha()
    guard, store, _ = make_guard(captcha)
    for _ in range(5):
        await fail(guard)
    with pytest.raises(ApiError) as caught:
        await guard.admit("victim@example.ru", "203.0.113.9", None)
    assert (caught.value.status, caught.value.code) == (401, "CAPTCHA_REQUIRED")
    assert caught.value.items[0].meta == {"captcha": {"provider": "yandex", "siteKey": "site-key"}}
    assert await code_of(guard, token="bot-guess") == "CAPTCHA_INVALID"
    assert captcha.asked[-1] == ("bot-guess", "203.0.113.1")
    assert await code_of(guard, token="pass-1") == "OK"  # success: the login's failures are gone
    assert await code_of(guard) == "OK"
    assert all(key != login_key("victim@example.ru") for key, _ in store.rows)
    assert sum(key == ip_key("203.0.113.1") for key, _ in store.rows) == 5  # the address keeps its own


async def test_an_unreachable_provider_fails_closed() -> None:
    captcha = FakeCaptcha()
    guard, _, _ = make_guard(captcha)
    for _ in range(5):
        await fail(guard)
    captcha.down = True
    with pytest.raises(ApiError) as caught:
        await guard.admit("victim@example.ru", "203.0.113.1", "pass-2")
    assert (caught.value.status, caught.value.code) == (503, "CAPTCHA_UNAVAILABLE")


async def test_without_a_provider_the_delays_grow_and_end() -> None:
    guard, _, clock = make_guard(None)
    for _ in range(5):
        await fail(guard)
    waits = []
    for _ in range(3):
        with pytest.raises(ApiError) as caught:
            await guard.admit("victim@example.ru", "203.0.113.1", None)
        assert (caught.value.status, caught.value.code) == (429, "SIGN_IN_DELAYED")
        retry_after = int(caught.value.headers["Retry-After"])
        waits.append(retry_after)
        clock.now += timedelta(seconds=retry_after)
        await fail(guard)  # allowed again once the delay is over
    assert waits == [1, 2, 4]
    clock.now += timedelta(minutes=16)  # the short window slid past every failure
    assert await code_of(guard) == "OK"


async def test_the_guard_treats_unknown_and_known_logins_alike() -> None:
    # It never looks the account up: any two logins with the same history get the same answers.
    guard, _, _ = make_guard(FakeCaptcha())
    for login in ("someone@example.ru", "nobody-at-all@example.ru"):
        answers = []
        for _ in range(7):
            try:
                async with guard.attempt(login, "203.0.113.50", None):
                    raise errors.invalid_credentials()
            except ApiError as exc:
                answers.append(exc.code)
        assert answers == ["INVALID_CREDENTIALS"] * 5 + ["CAPTCHA_REQUIRED"] * 2


async def test_a_flooded_login_rate_limit_asks_for_a_captcha_instead_of_locking_out() -> None:
    guard, _, _ = make_guard(FakeCaptcha(), rate=2)
    assert await code_of(guard) == "OK"
    assert await code_of(guard) == "OK"
    assert await code_of(guard) == "CAPTCHA_REQUIRED"
    assert await code_of(guard, token="pass-3") == "OK"
    no_captcha, _, _ = make_guard(None, rate=2)
    assert [await code_of(no_captcha) for _ in range(3)] == ["OK", "OK", "RATE_LIMITED"]


async def test_credential_stuffing_from_one_address_needs_a_captcha() -> None:
    guard, _, _ = make_guard(FakeCaptcha())
    for n in range(20):
        await fail(guard, f"user{n}@example.ru", "198.51.100.66")
    assert await code_of(guard, "fresh@example.ru", "198.51.100.66") == "CAPTCHA_REQUIRED"
    assert await code_of(guard, "fresh@example.ru", "198.51.100.67") == "OK"


async def test_the_hourly_cap_holds_with_solved_captchas_and_lifts_as_the_hour_slides() -> None:
    guard, _, clock = make_guard(FakeCaptcha())
    start = clock.now
    for n in range(100):
        clock.now = start + timedelta(seconds=30 * n)  # 100 failures over 50 minutes
        await fail(guard, token=f"pass-{n}")
    with pytest.raises(ApiError) as caught:
        await guard.admit("victim@example.ru", "203.0.113.1", "pass-x")
    assert caught.value.code == "SIGN_IN_DELAYED"
    assert int(caught.value.headers["Retry-After"]) == 3600 - 30 * 99
    clock.now = start + timedelta(hours=1, seconds=1)  # the first failure slid out
    assert await code_of(guard, token="pass-y") == "OK"


async def test_only_wrong_passwords_count() -> None:
    guard, store, _ = make_guard(None)
    with pytest.raises(ApiError):
        async with guard.attempt("victim@example.ru", "203.0.113.1", None):
            raise errors.account_blocked()
    assert store.rows == []


async def test_routes_ask_for_a_captcha_only_when_configured() -> None:
    captcha = FakeCaptcha()
    guard, _, _ = make_guard(captcha)
    await guard.require_captcha("password-forgot", None, "203.0.113.1")  # not configured: nothing
    with pytest.raises(ApiError) as caught:
        await guard.require_captcha("register", None, "203.0.113.1")
    assert caught.value.code == "CAPTCHA_REQUIRED"
    await guard.require_captcha("register", "pass-4", "203.0.113.1")
    no_provider, _, _ = make_guard(None)
    await no_provider.require_captcha("register", None, "203.0.113.1")
