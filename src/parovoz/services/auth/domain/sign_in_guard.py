"""The sign-in guard: failed password sign-ins counted per login and per client address, and what
the next attempt must do about them (SECURITY.md: brute force, no enumeration).

Policy (`GuardPolicy`, pure: `judge` takes the counts and the time):

- Per login (the normalised login, hashed; counted the same whether or not an account has it, so
  the guard tells nothing about which logins exist): after 5 failures within 15 minutes the next
  attempt needs a solved **captcha** when a provider is configured. The owner can always get in by
  solving it, so an attacker cannot lock them out. Without a provider, **growing delays**: the next
  attempt is allowed 2^(n-5) s after the last failure (n failures in 15 minutes), at most 15
  minutes; earlier attempts get 429 `SIGN_IN_DELAYED` with `Retry-After`.
- At most 100 failures per login per sliding hour, whatever the captcha: beyond that 429 until the
  oldest failure of the hour slides out (temporary: the rows expire, nothing is ever locked for
  good). With a captcha provider an attacker must solve ~95 captchas an hour to keep that up.
- Per client address (credential stuffing: many logins from one address): after 20 failures within
  15 minutes the address needs a captcha, or without a provider waits 2^(n-20) s after its last
  failure. That delay is capped at 60 s rather than 15 minutes — adjusted because an address is
  often shared (mobile carrier NAT, offices): a long delay would shut out every honest user behind
  it, while 60 s already cuts a bot from the per-address rate limit's 1800 tries an hour to ~60.
- A successful sign-in clears the login's failures (the address's stay: a stuffing bot holding one
  valid pair must not wipe its own record).
- The per-login rate limit (GCRA, 10 a minute) stays in front of the password check; with a captcha
  provider an attempt beyond it asks for a captcha instead of a 429, so an attacker flooding a login
  cannot keep its owner out either: a solved captcha passes.

Only attempts that reach the password check and fail are counted: answers of CAPTCHA_REQUIRED or a
delay cost no argon2 verification and are not failures. The hot path reads the counts once (one
small query) before the password check and writes once on failure. The login is hashed under the
same normalisation the store uses to find accounts (an e-mail as at sign-up, a username
lower-cased); an account's e-mail and username are two logins, so each has its own budget.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Protocol

from parovoz.chassis.errors import ApiError, register_messages, too_many_requests, unauthorized
from parovoz.chassis.obs.logging import get_logger
from parovoz.chassis.security.ratelimit import RateLimiter
from parovoz.services.auth.captcha import CaptchaUnavailable, CaptchaVerifier
from parovoz.services.auth.domain import rules

log = get_logger(__name__)

HOUR = timedelta(hours=1)
LOGIN, IP = "login", "ip"
# Lifts the 2^n of a long streak well past any cap without computing huge integers.
_MAX_EXPONENT = 20

register_messages(
    {
        "CAPTCHA_REQUIRED": {
            "ru": ("Нужна проверка", "Подтвердите, что вы не робот, и повторите попытку."),
            "en": ("Captcha required", "Prove you are not a robot and try again."),
        },
        "CAPTCHA_INVALID": {
            "ru": ("Проверка не пройдена", "Проверка недействительна или устарела: пройдите её снова."),
            "en": ("Captcha failed", "The captcha is invalid or expired: solve it again."),
        },
        "CAPTCHA_UNAVAILABLE": {
            "ru": ("Проверка недоступна", "Сервис проверки временно недоступен. Повторите попытку позже."),
            "en": ("Captcha unavailable", "The captcha service is unavailable. Try again later."),
        },
        "SIGN_IN_DELAYED": {
            "ru": (
                "Слишком много неудачных попыток",
                "Слишком много неудачных попыток входа. Повторите через {retryAfter} с.",
            ),
            "en": (
                "Too many failed attempts",
                "Too many failed sign-in attempts. Try again in {retryAfter} s.",
            ),
        },
    }
)


@dataclass(frozen=True)
class GuardPolicy:
    window: timedelta = timedelta(minutes=15)
    captcha_after: int = 5  # login failures within `window`
    max_delay_s: int = 15 * 60
    hourly_cap: int = 100  # login failures within an hour
    ip_captcha_after: int = 20  # address failures within `window`
    ip_max_delay_s: int = 60


@dataclass(frozen=True)
class Failures:
    """One key's failures: within the short window, within the hour, and the oldest and newest."""

    recent: int = 0
    hourly: int = 0
    first_at: datetime | None = None
    last_at: datetime | None = None


NO_FAILURES = Failures()


class Need(Enum):
    NOTHING = "nothing"
    CAPTCHA = "captcha"
    WAIT = "wait"


@dataclass(frozen=True)
class Verdict:
    need: Need
    retry_after: int = 0  # whole seconds, for WAIT


ADMIT = Verdict(Need.NOTHING)


def delay_s(failures: int, threshold: int, cap_s: int) -> int:
    """2^(failures - threshold) seconds once `failures` reaches `threshold`, at most `cap_s`."""
    if failures < threshold:
        return 0
    return min(2 ** min(failures - threshold, _MAX_EXPONENT), cap_s)


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(0, math.ceil((moment - now).total_seconds()))


def _wait(failures: Failures, threshold: int, cap_s: int, now: datetime) -> int:
    delay = delay_s(failures.recent, threshold, cap_s)
    if not delay or failures.last_at is None:
        return 0
    return _seconds_until(failures.last_at + timedelta(seconds=delay), now)


def judge(login: Failures, ip: Failures, now: datetime, *, captcha: bool, policy: GuardPolicy) -> Verdict:
    """What the next sign-in attempt of this login from this address needs."""
    if login.hourly >= policy.hourly_cap and login.first_at is not None:
        return Verdict(Need.WAIT, max(1, _seconds_until(login.first_at + HOUR, now)))
    if captcha:
        if login.recent >= policy.captcha_after or ip.recent >= policy.ip_captcha_after:
            return Verdict(Need.CAPTCHA)
        return ADMIT
    wait = max(
        _wait(login, policy.captcha_after, policy.max_delay_s, now),
        _wait(ip, policy.ip_captcha_after, policy.ip_max_delay_s, now),
    )
    return Verdict(Need.WAIT, wait) if wait > 0 else ADMIT


def login_key(login: str) -> bytes:
    """The hashed login: an e-mail normalised as at sign-up, a username lower-cased."""
    key = rules.normalize_login(login)
    if rules.is_email_login(key):
        try:
            key = rules.normalize_email(key)
        except rules.RuleViolation:
            pass  # no account has it; still counted under its own key
    return hashlib.sha256(f"{LOGIN}:{key}".encode()).digest()


def ip_key(client_ip: str) -> bytes:
    return hashlib.sha256(f"{IP}:{client_ip}".encode()).digest()


class FailureStore(Protocol):
    async def read(
        self, login_key: bytes, ip_key: bytes, *, recent_since: datetime, hour_since: datetime
    ) -> tuple[Failures, Failures]:
        """The failures of the login and of the address since `hour_since` (one query)."""
        ...

    async def record(self, login_key: bytes, ip_key: bytes, at: datetime) -> None:
        """One failure under both keys (one statement)."""

    async def clear(self, login_key: bytes) -> None:
        """Forget the login's failures."""

    async def purge(self, before: datetime) -> int:
        """Delete failures older than `before`; how many."""
        ...


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Admitted:
    login_key: bytes
    ip_key: bytes
    had_failures: bool


class SignInGuard:
    """Applies the policy around a password check; the captcha is asked of `captcha` when set."""

    def __init__(
        self,
        store: FailureStore,
        limiter: RateLimiter,
        captcha: CaptchaVerifier | None,
        *,
        login_rate_per_min: int,
        policy: GuardPolicy | None = None,
        captcha_routes: frozenset[str] = frozenset(),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.limiter = limiter
        self.captcha = captcha
        self.login_rate_per_min = login_rate_per_min
        self.policy = policy or GuardPolicy()
        self.captcha_routes = captcha_routes
        self.clock = clock

    async def admit(self, login: str, client_ip: str, captcha_token: str | None) -> Admitted:
        """Let a sign-in attempt reach the password check, or raise what it needs first."""
        keys = login_key(login), ip_key(client_ip)
        now = self.clock()
        login_failures, ip_failures = await self.store.read(
            *keys, recent_since=now - self.policy.window, hour_since=now - HOUR
        )
        verdict = judge(
            login_failures, ip_failures, now, captcha=self.captcha is not None, policy=self.policy
        )
        if verdict.need is Need.WAIT:
            raise sign_in_delayed(verdict.retry_after)
        need_captcha = verdict.need is Need.CAPTCHA
        if not need_captcha:
            rate = await self.limiter.hit(
                f"auth:login:id:{keys[0].hex()[:32]}", self.login_rate_per_min, 60.0
            )
            if not rate.allowed:
                if self.captcha is None:
                    raise too_many_requests(rate.retry_after)
                need_captcha = True
        if need_captcha:
            await self._verify(captcha_token, client_ip)
        return Admitted(*keys, had_failures=login_failures.hourly > 0)

    @asynccontextmanager
    async def attempt(self, login: str, client_ip: str, captcha_token: str | None) -> AsyncIterator[None]:
        """`async with guard.attempt(...): <password check>`: admitted first; a wrong password
        (INVALID_CREDENTIALS) is recorded, a success clears the login's failures."""
        admitted = await self.admit(login, client_ip, captcha_token)
        try:
            yield
        except ApiError as exc:
            if exc.code == "INVALID_CREDENTIALS":
                await self.store.record(admitted.login_key, admitted.ip_key, self.clock())
            raise
        if admitted.had_failures:
            await self.store.clear(admitted.login_key)

    async def require_captcha(self, route: str, captcha_token: str | None, client_ip: str) -> None:
        """On a route configured to always ask for one (`register`, `password-forgot`)."""
        if self.captcha is not None and route in self.captcha_routes:
            await self._verify(captcha_token, client_ip)

    async def _verify(self, token: str | None, client_ip: str) -> None:
        assert self.captcha is not None
        if not token:
            raise captcha_required(self.captcha)
        try:
            check = await self.captcha.verify(token, client_ip)
        except CaptchaUnavailable:
            # Fail closed: without a verdict nobody passes a step that asked for one.
            raise ApiError(503, "CAPTCHA_UNAVAILABLE", headers={"Retry-After": "30"}) from None
        if not check.ok:
            log.info("captcha refused", provider=self.captcha.provider, reason=check.reason)
            raise unauthorized(
                "CAPTCHA_INVALID", pointer="/data/attributes/captchaToken", meta=_meta(self.captcha)
            )


def _meta(captcha: CaptchaVerifier) -> dict[str, object]:
    # What a client needs to render the widget: which provider, with which public site key.
    return {"captcha": {"provider": captcha.provider, "siteKey": captcha.site_key}}


def captcha_required(captcha: CaptchaVerifier) -> ApiError:
    return unauthorized("CAPTCHA_REQUIRED", meta=_meta(captcha))


def sign_in_delayed(retry_after: int) -> ApiError:
    return ApiError(
        429, "SIGN_IN_DELAYED", params={"retryAfter": retry_after}, headers={"Retry-After": str(retry_after)}
    )
