"""RedisRateLimiter against the real Redis: the same behaviours as in memory, shared by instances."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from parovoz.chassis.security.ratelimit import KEY_PREFIX, RateLimiter, RedisRateLimiter


@pytest.fixture
async def limiter(redis_url: str) -> AsyncIterator[RedisRateLimiter]:
    rl = RedisRateLimiter(redis_url)
    yield rl
    await rl.close()


def unique(name: str) -> str:
    return f"test:{name}:{uuid.uuid4().hex}"


async def test_limit_reached_is_denied_with_retry_after(limiter: RedisRateLimiter) -> None:
    key = unique("burst")
    decisions = [await limiter.hit(key, 3, 10) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    assert decisions[3].retry_after in (3, 4)  # the next slot opens 10/3 s after the first hit
    assert isinstance(limiter, RateLimiter)


async def test_window_passing_allows_again(limiter: RedisRateLimiter) -> None:
    key = unique("window")
    assert (await limiter.hit(key, 2, 0.5)).allowed
    assert (await limiter.hit(key, 2, 0.5)).allowed
    denied = await limiter.hit(key, 2, 0.5)
    assert not denied.allowed and denied.retry_after == 1
    await asyncio.sleep(0.55)
    again = await limiter.hit(key, 2, 0.5)
    assert again.allowed and again.remaining == 1


async def test_keys_are_independent(limiter: RedisRateLimiter) -> None:
    a, b = unique("a"), unique("b")
    assert (await limiter.hit(a, 1, 60)).allowed
    assert not (await limiter.hit(a, 1, 60)).allowed
    assert (await limiter.hit(b, 1, 60)).allowed


async def test_two_instances_share_state(redis_url: str) -> None:
    key = unique("shared")
    client = Redis.from_url(redis_url)
    first, second = RedisRateLimiter(redis_url), RedisRateLimiter(client)
    try:
        assert (await first.hit(key, 2, 60)).allowed
        assert (await second.hit(key, 2, 60)).allowed
        assert not (await first.hit(key, 2, 60)).allowed
        assert not (await second.hit(key, 2, 60)).allowed
        # The state lives under the documented prefix and expires by itself.
        ttl_ms = await client.pttl(KEY_PREFIX + key)
        assert 0 < ttl_ms <= 60_000
        await second.close()  # the limiter does not own a client it was given
        assert await client.ping()
    finally:
        await first.close()
        await client.aclose()


async def test_unreachable_redis_fails_open_with_a_metric() -> None:
    labels = {"backend": "redis"}
    before = REGISTRY.get_sample_value("parovoz_rate_limit_fail_open_total", labels) or 0
    limiter = RedisRateLimiter("redis://127.0.0.1:1/0", timeout=0.2, retry_after_failure=60)
    try:
        decisions = [await limiter.hit(unique("down"), 1, 60) for _ in range(3)]
    finally:
        await limiter.close()
    assert all(d.allowed for d in decisions)
    assert REGISTRY.get_sample_value("parovoz_rate_limit_fail_open_total", labels) == before + 3
