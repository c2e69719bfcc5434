"""A service's own token: reused while fresh, refreshed before it expires (one fetch at a time),
kept through a short Auth outage."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from parovoz.chassis.security.service_credentials import (
    RETRY_GAP,
    ServiceCredentials,
    ServiceTokenUnavailable,
)
from parovoz.chassis.security.tokens import IssuedToken


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class FakeAuth:
    """Issues "token-N" valid for `ttl` seconds of the fake clock; can fail or be slow."""

    def __init__(self, clock: Clock, ttl: float = 600) -> None:
        self.clock = clock
        self.ttl = ttl
        self.calls = 0
        self.failing = False
        self.delay = 0.0

    async def __call__(self) -> IssuedToken:
        self.calls += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.failing:
            raise ConnectionError("auth down")
        expires = datetime.fromtimestamp(self.clock.now + self.ttl, UTC)
        return IssuedToken(f"token-{self.calls}", f"jti-{self.calls}", expires)


async def test_the_token_is_reused_then_refreshed_before_it_expires() -> None:
    clock = Clock()
    auth = FakeAuth(clock)
    credentials = ServiceCredentials("account", auth, clock=clock)
    assert await credentials.token() == "token-1"
    clock.now += 400  # two thirds of its life: still fresh
    assert await credentials.token() == "token-1"
    assert auth.calls == 1
    clock.now += 60  # 460 s of 600: past three quarters, 140 s before expiry
    assert await credentials.token() == "token-2"
    assert auth.calls == 2
    clock.now += 100
    assert await credentials.token() == "token-2"


async def test_concurrent_callers_share_one_fetch() -> None:
    clock = Clock()
    auth = FakeAuth(clock)
    auth.delay = 0.05
    credentials = ServiceCredentials("account", auth, clock=clock)
    tokens = await asyncio.gather(*(credentials.token() for _ in range(20)))
    assert set(tokens) == {"token-1"} and auth.calls == 1
    clock.now += 500
    tokens = await asyncio.gather(*(credentials.token() for _ in range(20)))
    assert set(tokens) == {"token-2"} and auth.calls == 2


async def test_a_short_auth_outage_keeps_the_old_token_while_it_lasts() -> None:
    clock = Clock()
    auth = FakeAuth(clock)
    credentials = ServiceCredentials("account", auth, clock=clock)
    assert await credentials.token() == "token-1"
    auth.failing = True
    clock.now += 500
    assert await credentials.token() == "token-1"  # refresh failed, the token still has 100 s
    calls = auth.calls
    clock.now += RETRY_GAP / 2
    assert await credentials.token() == "token-1"
    assert auth.calls == calls  # no retry before the gap
    clock.now += RETRY_GAP
    auth.failing = False
    assert await credentials.token() == "token-3"
    auth.failing = True
    clock.now += 600  # past its expiry: nothing usable is left
    with pytest.raises(ServiceTokenUnavailable):
        await credentials.token()


async def test_no_source_or_a_failing_first_fetch_is_unavailable() -> None:
    with pytest.raises(ServiceTokenUnavailable):
        await ServiceCredentials("account").token()
    clock = Clock()
    auth = FakeAuth(clock)
    auth.failing = True
    with pytest.raises(ServiceTokenUnavailable):
        await ServiceCredentials("account", auth, clock=clock).token()
