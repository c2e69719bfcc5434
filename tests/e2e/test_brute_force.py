"""Brute force and enumeration through the gateway (SECURITY.md): a thousand wrong passwords
against one account, credential stuffing from one address, growing delays without a captcha, and
the same answers and timing for unknown and known logins at sign-in and password reset.

The captcha tests run on a platform of their own whose Yandex SmartCaptcha verify URL points at
the sandbox (`pass-…` tokens are solved captchas); the delay test uses the shared platform, which
has no captcha provider.
"""

from __future__ import annotations

import asyncio
import itertools
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from parovoz.runtime.embedded import EmbeddedPlatform
from parovoz.sandboxes import sandbox_app
from parovoz.sandboxes.captcha import SANDBOX_SECRET, SANDBOX_SITE_KEY
from parovoz.services.auth.domain.sign_in_guard import login_key
from parovoz.services.auth.wiring import components
from tests.e2e.flows import new_user
from tests.e2e.platforms import platform_with
from tests.servers import ServedApp

LOGIN = "/api/v1/auth/login"
FORGOT = "/api/v1/auth/password/forgot"
_addresses = itertools.count(1)


def fresh_address() -> str:
    """A client address no other test of this module uses (own rate limits, own failure count)."""
    n = next(_addresses)
    return f"10.77.{n // 250}.{n % 250 + 1}"


@pytest.fixture(scope="module")
def captcha_url() -> Iterator[str]:
    with ServedApp(sandbox_app("captcha-yandex")) as app:
        yield app.url + "/validate"


@pytest.fixture(scope="module")
async def guarded_platform(captcha_url: str) -> AsyncIterator[EmbeddedPlatform]:
    env = {
        "PAROVOZ_AUTH_CAPTCHA_PROVIDER": "yandex",
        "PAROVOZ_AUTH_CAPTCHA_SECRET": SANDBOX_SECRET,
        "PAROVOZ_AUTH_CAPTCHA_SITE_KEY": SANDBOX_SITE_KEY,
        "PAROVOZ_AUTH_CAPTCHA_URL": captcha_url,
        # password/forgot's constant-time floor, lower than the 200 ms default to keep the test short
        "PAROVOZ_AUTH_PASSWORD_FORGOT_MIN_MS": "100",
    }
    async with platform_with(env) as platform:
        yield platform


def client_of(platform: EmbeddedPlatform, address: str | None = None) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=platform.gateway, client=(address or fresh_address(), 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://parovoz.test", timeout=30)


def auth_ctx(platform: EmbeddedPlatform) -> Any:
    return next(host for host in platform.hosts if host.spec.name == "auth").ctx


async def post(
    platform: EmbeddedPlatform, path: str, body: dict[str, Any], address: str | None = None
) -> httpx.Response:
    async with client_of(platform, address) as client:
        return await client.post(path, json=body)


async def register(platform: EmbeddedPlatform) -> dict[str, str]:
    user = new_user()
    r = await post(platform, "/api/v1/auth/register", user)
    assert r.status_code == 201, r.text
    return {**user, "id": r.json()["data"]["id"]}


def code(response: httpx.Response) -> str:
    return response.json()["errors"][0]["code"]


def assert_contract_error(response: httpx.Response) -> None:
    body = response.json()
    assert set(body) == {"errors"}, body
    for error in body["errors"]:
        assert {"code", "title", "detail"} <= set(error), error
        assert error["code"].isupper()


async def user_row(platform: EmbeddedPlatform, user_id: str) -> dict[str, Any]:
    async with auth_ctx(platform).db.connect() as conn:
        row = (await conn.execute(sa.text("SELECT * FROM users WHERE id = :id"), {"id": user_id})).one()
    return dict(row._mapping)


async def profile(platform: EmbeddedPlatform, access: str) -> dict[str, Any]:
    """The caller's Account profile, once Account has handled the registration event."""
    async with client_of(platform) as client:
        for _ in range(400):
            r = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {access}"})
            if r.status_code == 200:
                return r.json()["data"]
            await asyncio.sleep(0.05)
    raise AssertionError("the profile never appeared")


async def test_a_thousand_wrong_passwords_from_many_addresses(guarded_platform: EmbeddedPlatform) -> None:
    platform = guarded_platform
    victim = await register(platform)
    r = await post(platform, LOGIN, {"login": victim["email"], "password": victim["password"]})
    assert r.status_code == 200, r.text
    before_profile = await profile(platform, r.json()["data"]["attributes"]["accessToken"])
    before_row = await user_row(platform, victim["id"])

    passwords = components(auth_ctx(platform)).passwords
    verifications = 0
    real_verify = passwords.verify

    async def counting_verify(password_hash: str, password: str) -> bool:
        nonlocal verifications
        verifications += 1
        return await real_verify(password_hash, password)

    passwords.verify = counting_verify  # type: ignore[method-assign]
    try:
        answers: dict[tuple[int, str], int] = {}
        started = time.monotonic()
        attackers = [client_of(platform) for _ in range(100)]  # ten guesses from each of a hundred
        for n in range(1000):
            r = await attackers[n % 100].post(
                LOGIN, json={"login": victim["email"], "password": f"guess-{n:04d}"}
            )
            assert r.status_code in (401, 429), r.text
            assert_contract_error(r)
            key = (r.status_code, code(r))
            answers[key] = answers.get(key, 0) + 1
        elapsed = time.monotonic() - started
    finally:
        for attacker in attackers:
            await attacker.aclose()
        passwords.verify = real_verify  # type: ignore[method-assign]

    assert set(answers) <= {(401, "INVALID_CREDENTIALS"), (401, "CAPTCHA_REQUIRED"), (429, "RATE_LIMITED")}
    assert answers[(401, "INVALID_CREDENTIALS")] == 5, answers  # then the captcha stopped them
    assert verifications == 5, verifications  # not a thousand argon2 runs
    async with auth_ctx(platform).db.connect() as conn:
        counted = (
            await conn.execute(
                sa.text("SELECT count(*) FROM sign_in_failures WHERE key_hash = :k"),
                {"k": login_key(victim["email"])},
            )
        ).scalar_one()
    assert counted == 5
    assert elapsed < 60, f"a thousand refused guesses took {elapsed:.1f} s"

    # No lockout: the owner, from their own address, solves the captcha and is in.
    owner = fresh_address()
    credentials = {"login": victim["email"], "password": victim["password"]}
    r = await post(platform, LOGIN, credentials, owner)
    assert (r.status_code, code(r)) == (401, "CAPTCHA_REQUIRED")
    assert r.json()["errors"][0]["meta"] == {"captcha": {"provider": "yandex", "siteKey": SANDBOX_SITE_KEY}}
    r = await post(platform, LOGIN, {**credentials, "captchaToken": f"pass-{uuid.uuid4()}"}, owner)
    assert r.status_code == 200, r.text
    assert await profile(platform, r.json()["data"]["attributes"]["accessToken"]) == before_profile
    assert await user_row(platform, victim["id"]) == before_row


async def test_credential_stuffing_from_one_address_meets_a_captcha(
    guarded_platform: EmbeddedPlatform,
) -> None:
    bot, player = fresh_address(), fresh_address()
    for n in range(20):
        r = await post(
            guarded_platform,
            LOGIN,
            {"login": f"leaked{n}-{uuid.uuid4().hex[:6]}@example.ru", "password": "leaked-pw-1"},
            bot,
        )
        assert (r.status_code, code(r)) == (401, "INVALID_CREDENTIALS")
    r = await post(guarded_platform, LOGIN, {"login": "another@example.ru", "password": "leaked-pw-1"}, bot)
    assert (r.status_code, code(r)) == (401, "CAPTCHA_REQUIRED")
    r = await post(
        guarded_platform, LOGIN, {"login": "another@example.ru", "password": "leaked-pw-1"}, player
    )
    assert (r.status_code, code(r)) == (401, "INVALID_CREDENTIALS")


async def test_without_a_captcha_the_delays_grow(gateway_client: Callable[..., httpx.AsyncClient]) -> None:
    victim = new_user()
    async with gateway_client() as client:
        assert (await client.post("/api/v1/auth/register", json=victim)).status_code == 201
    wrong = {"login": victim["username"], "password": "not-the-password"}

    async def attempt() -> httpx.Response:
        async with gateway_client() as client:  # a new address each time: only the login is counted
            return await client.post(LOGIN, json=wrong)

    for _ in range(5):
        assert (await attempt()).status_code == 401
    waits = []
    for _ in range(3):
        r = await attempt()
        assert (r.status_code, code(r)) == (429, "SIGN_IN_DELAYED")
        assert_contract_error(r)
        waits.append(int(r.headers["retry-after"]))
        await asyncio.sleep(waits[-1])
        r = await attempt()  # the delay is over: the password is checked again
        assert (r.status_code, code(r)) == (401, "INVALID_CREDENTIALS")
    assert waits[0] == 1 and waits[0] < waits[1] < waits[2] and waits[2] >= 3, waits


@dataclass
class Timings:
    first_ms: list[float]
    second_ms: list[float]
    responses: list[httpx.Response]

    @property
    def p50_gap(self) -> float:
        return statistics.median(self.first_ms) - statistics.median(self.second_ms)

    @property
    def paired_gap(self) -> float:
        """The median of the differences within each adjacent pair: a load that comes and goes
        (other processes on the machine) weighs on both calls of a pair and cancels out."""
        return statistics.median(a - b for a, b in zip(self.first_ms, self.second_ms, strict=True))


async def timings(
    first: Callable[[int], Awaitable[httpx.Response]],
    second: Callable[[int], Awaitable[httpx.Response]],
    n: int,
) -> Timings:
    """Latencies (ms) of `n` calls of each, in adjacent pairs whose order alternates."""
    measured = Timings([], [], [])
    for i in range(n):
        for index in (0, 1) if i % 2 == 0 else (1, 0):
            started = time.perf_counter()
            measured.responses.append(await (first, second)[index](i))
            (measured.first_ms, measured.second_ms)[index].append((time.perf_counter() - started) * 1000)
    return measured


# SECURITY.md's bar: p50 within 5 ms. The machine running the suite may be shared and loaded, and
# its load comes and goes: the gap is also taken pair by pair (the same shift of the median,
# robust to that), and up to three fresh rounds are measured, one of which must meet the bar. A real
# difference between the paths (an unknown login skipping argon2: ~20 ms and more) shows in all.
TIMING_BAR_MS, ROUNDS = 5.0, 3


async def assert_alike_in_time(measure_round: Callable[[], Awaitable[Timings]]) -> list[httpx.Response]:
    seen = []
    for _ in range(ROUNDS):
        measured = await measure_round()
        gaps = (measured.p50_gap, measured.paired_gap)
        seen.append(tuple(round(gap, 1) for gap in gaps))
        if min(abs(gap) for gap in gaps) < TIMING_BAR_MS:
            return measured.responses
    raise AssertionError(
        f"p50 gaps (ms; of medians, paired) beyond {TIMING_BAR_MS} ms in every round: {seen}"
    )


def same_answer(a: httpx.Response, b: httpx.Response) -> None:
    assert a.status_code == b.status_code
    assert a.content == b.content
    assert a.headers.get("www-authenticate") == b.headers.get("www-authenticate")


async def settle(platform: EmbeddedPlatform) -> None:
    """Let the work that sign-ups set off in the background (events, Account's profiles) end, so
    that it does not weigh on one kind of request more than on the other."""
    await asyncio.sleep(1.5)


async def test_sign_in_tells_unknown_logins_from_wrong_passwords_neither_by_answer_nor_by_time(
    guarded_platform: EmbeddedPlatform,
) -> None:
    platform = guarded_platform
    # warm both paths up (connections, caches) before measuring
    await post(platform, LOGIN, {"login": "warm-up@example.ru", "password": "warm-up-pw"})

    async def measure_round() -> Timings:
        # 8 logins of each kind × 4 attempts: each stays under the 5 failures that bring the captcha;
        # 16 addresses × 4 attempts: each far from its own limits
        known = [await register(platform) for _ in range(8)]
        unknown = [f"ghost-{uuid.uuid4().hex[:10]}@example.ru" for _ in range(8)]
        clients = [client_of(platform) for _ in range(16)]
        await settle(platform)

        async def wrong_password(i: int) -> httpx.Response:
            body = {"login": known[i % 8]["email"], "password": f"wrong-{i}"}
            return await clients[i % 8].post(LOGIN, json=body)

        async def unknown_login(i: int) -> httpx.Response:
            return await clients[8 + i % 8].post(
                LOGIN, json={"login": unknown[i % 8], "password": f"wrong-{i}"}
            )

        try:
            return await timings(wrong_password, unknown_login, 32)
        finally:
            for client in clients:
                await client.aclose()

    responses = await assert_alike_in_time(measure_round)
    for r in responses:
        assert (r.status_code, code(r)) == (401, "INVALID_CREDENTIALS")
        same_answer(r, responses[0])

    # The guard treats them alike too: five failures each, then the same captcha for both.
    known_login, unknown_login = (await register(platform))["email"], f"ghost-{uuid.uuid4().hex}@example.ru"
    captchas = []
    for login in (known_login, unknown_login):
        answers = [await post(platform, LOGIN, {"login": login, "password": "wrong-pw-1"}) for _ in range(6)]
        assert [code(r) for r in answers] == ["INVALID_CREDENTIALS"] * 5 + ["CAPTCHA_REQUIRED"]
        captchas.append(answers[-1])
    same_answer(*captchas)


async def test_password_forgot_answers_known_and_unknown_addresses_alike(
    guarded_platform: EmbeddedPlatform,
) -> None:
    platform = guarded_platform
    await post(platform, FORGOT, {"email": "warm-up@example.ru"})

    async def measure_round() -> Timings:
        known = [await register(platform) for _ in range(8)]  # 4 each: under the 5 mails an hour
        unknown = [f"ghost-{uuid.uuid4().hex[:10]}@example.ru" for _ in range(8)]
        clients = [client_of(platform) for _ in range(16)]  # 4 each: under the 5 a minute
        await settle(platform)

        async def known_email(i: int) -> httpx.Response:
            return await clients[i % 8].post(FORGOT, json={"email": known[i % 8]["email"]})

        async def unknown_email(i: int) -> httpx.Response:
            return await clients[8 + i % 8].post(FORGOT, json={"email": unknown[i % 8]})

        try:
            return await timings(known_email, unknown_email, 32)
        finally:
            for client in clients:
                await client.aclose()

    responses = await assert_alike_in_time(measure_round)
    for r in responses:
        assert r.status_code == 202, r.text
        same_answer(r, responses[0])
