"""GCRA in memory, driven with explicit times (µs) so every case is exact."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from parovoz.chassis.security.ratelimit import MemoryRateLimiter, RateDecision, RateLimiter

SECOND = 1_000_000
T0 = 1_000 * SECOND


def test_limit_reached_is_denied_with_retry_after() -> None:
    limiter = MemoryRateLimiter()
    decisions = [limiter.hit_now("login:ip:1", 3, 10, T0) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    # Three per 10 s: the next slot opens 10/3 s after the burst began.
    assert decisions[3] == RateDecision(False, 4, 0)


def test_retry_after_is_whole_seconds_and_at_least_one() -> None:
    limiter = MemoryRateLimiter()
    limiter.hit_now("k", 1, 0.2, T0)
    denied = limiter.hit_now("k", 1, 0.2, T0 + 1)
    assert not denied.allowed and denied.retry_after == 1
    limiter.hit_now("slow", 1, 60, T0)
    assert limiter.hit_now("slow", 1, 60, T0 + 15 * SECOND).retry_after == 45


def test_window_passing_allows_again() -> None:
    limiter = MemoryRateLimiter()
    for _ in range(2):
        assert limiter.hit_now("k", 2, 1, T0).allowed
    assert not limiter.hit_now("k", 2, 1, T0 + SECOND // 4).allowed
    assert limiter.hit_now("k", 2, 1, T0 + SECOND // 2).allowed  # one slot freed after 0.5 s
    refilled = limiter.hit_now("k", 2, 1, T0 + 3 * SECOND)
    assert refilled.allowed and refilled.remaining == 1


def test_denied_hits_do_not_push_the_window_further() -> None:
    limiter = MemoryRateLimiter()
    limiter.hit_now("k", 1, 1, T0)
    for step in range(1, 10):
        assert not limiter.hit_now("k", 1, 1, T0 + step * 1000).allowed
    assert limiter.hit_now("k", 1, 1, T0 + SECOND).allowed


def test_keys_are_independent() -> None:
    limiter = MemoryRateLimiter()
    assert limiter.hit_now("a", 1, 60, T0).allowed
    assert not limiter.hit_now("a", 1, 60, T0).allowed
    assert limiter.hit_now("b", 1, 60, T0).allowed


def test_idle_keys_are_swept() -> None:
    limiter = MemoryRateLimiter(sweep_interval=1)
    for i in range(1000):
        limiter.hit_now(f"ip:{i}", 5, 1, T0)
    assert len(limiter) == 1000
    limiter.hit_now("fresh", 5, 1, T0 + 2 * SECOND)
    assert len(limiter) == 1


def test_key_count_is_bounded() -> None:
    limiter = MemoryRateLimiter(max_keys=100, sweep_interval=3600)
    for i in range(1000):
        limiter.hit_now(f"ip:{i}", 5, 60, T0 + i)
    assert len(limiter) == 100
    assert limiter.hit_now("ip:999", 5, 60, T0 + 1000).remaining == 3  # recent keys keep their state
    assert limiter.hit_now("ip:0", 5, 60, T0 + 1000).remaining == 4  # the oldest were evicted


def test_invalid_parameters_are_refused() -> None:
    limiter = MemoryRateLimiter()
    with pytest.raises(ValueError):
        limiter.hit_now("k", 0, 1, T0)
    with pytest.raises(ValueError):
        limiter.hit_now("k", 1, 0, T0)


async def test_async_hit_counts_rejections() -> None:
    limiter = MemoryRateLimiter()
    assert isinstance(limiter, RateLimiter)
    before = REGISTRY.get_sample_value("parovoz_rate_limit_rejections_total", {"backend": "memory"}) or 0
    assert (await limiter.hit("k", 1, 60)).allowed
    denied = await limiter.hit("k", 1, 60)
    assert not denied.allowed and 59 <= denied.retry_after <= 60
    after = REGISTRY.get_sample_value("parovoz_rate_limit_rejections_total", {"backend": "memory"})
    assert after == before + 1
    await limiter.close()
    assert len(limiter) == 0
