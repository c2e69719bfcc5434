"""Rate limits with GCRA (the generic cell rate algorithm): `limit` requests per `window_s`, as a burst
or spread out, with one number of state per key (the theoretical arrival time, TAT).

For a hit at `now`: emission interval T = window / limit; new TAT = max(TAT, now) + T; the hit is
allowed when new TAT - window <= now. A key whose TAT is in the past is the same as a fresh key, so
idle keys can be forgotten (memory) or left to expire (Redis `PX`).

Callers put the policy in the key (`"login:ip:203.0.113.7"`): one key, one (limit, window).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from parovoz.chassis.obs.logging import get_logger
from parovoz.chassis.obs.metrics import RATE_LIMIT_FAIL_OPEN, RATE_LIMIT_REJECTIONS

KEY_PREFIX = "parovoz:rl:"
_MICRO = 1_000_000
# Lua numbers are doubles: microseconds since the epoch (~1.8e15) stay exact integers below 2^53.
_GCRA_LUA = """
local interval = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - window
if now < allow_at then
  return {0, allow_at - now, 0}
end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000))
return {1, 0, math.floor((window - (new_tat - now)) / interval)}
"""

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    retry_after: int  # whole seconds until a hit would be allowed; >= 1 when denied, 0 when allowed
    remaining: int  # hits still allowed right now after this one


@runtime_checkable
class RateLimiter(Protocol):
    async def hit(self, key: str, limit: int, window_s: float) -> RateDecision: ...

    async def close(self) -> None: ...


def _params(limit: int, window_s: float) -> tuple[int, int]:
    """(emission interval, window) in microseconds."""
    if limit < 1 or window_s <= 0:
        raise ValueError("a rate limit needs limit >= 1 and window_s > 0")
    window = max(1, round(window_s * _MICRO))
    return max(1, window // limit), window


def _denied(wait_us: float) -> RateDecision:
    return RateDecision(False, max(1, math.ceil(wait_us / _MICRO)), 0)


class MemoryRateLimiter:
    """GCRA in process memory (embedded mode, one process). Idle keys are swept, and at most
    `max_keys` are kept (the least recently hit go first), so a scan of random keys cannot grow it."""

    def __init__(self, *, max_keys: int = 100_000, sweep_interval: float = 1.0) -> None:
        self._tats: dict[str, int] = {}  # key -> TAT (µs, monotonic clock); order = last hit
        self._max_keys = max_keys
        self._sweep_interval_us = int(sweep_interval * _MICRO)
        self._next_sweep = 0
        self._rejected = RATE_LIMIT_REJECTIONS.labels("memory")

    def __len__(self) -> int:
        return len(self._tats)

    async def hit(self, key: str, limit: int, window_s: float) -> RateDecision:
        return self.hit_now(key, limit, window_s, time.monotonic_ns() // 1000)

    def hit_now(self, key: str, limit: int, window_s: float, now_us: int) -> RateDecision:
        """`hit` at an explicit time (µs on the monotonic clock)."""
        interval, window = _params(limit, window_s)
        if now_us >= self._next_sweep:
            self._sweep(now_us)
        tat = max(self._tats.pop(key, now_us), now_us)
        new_tat = tat + interval
        allow_at = new_tat - window
        if now_us < allow_at:
            self._tats[key] = tat
            self._rejected.inc()
            return _denied(allow_at - now_us)
        self._tats[key] = new_tat
        if len(self._tats) > self._max_keys:
            del self._tats[next(iter(self._tats))]
        return RateDecision(True, 0, (window - (new_tat - now_us)) // interval)

    def _sweep(self, now_us: int) -> None:
        self._next_sweep = now_us + self._sweep_interval_us
        idle = [key for key, tat in self._tats.items() if tat <= now_us]
        for key in idle:
            del self._tats[key]

    async def close(self) -> None:
        self._tats.clear()


class RedisRateLimiter:
    """GCRA in Redis, one atomic Lua script per hit, on Redis's clock (so every instance agrees).

    When Redis is unreachable the limiter fails OPEN: hits are allowed, a warning is logged (at most
    every `warn_every` seconds) and `parovoz_rate_limit_fail_open_total{backend="redis"}` counts them.
    A Redis outage must not turn into a 500 on every request; after a failure Redis is skipped for
    `retry_after_failure` seconds so requests do not each wait for a connect timeout.
    """

    def __init__(
        self,
        url_or_client: str | Redis,
        *,
        prefix: str = KEY_PREFIX,
        timeout: float = 0.25,
        retry_after_failure: float = 1.0,
        warn_every: float = 10.0,
    ) -> None:
        if isinstance(url_or_client, str):
            self._client = Redis.from_url(
                url_or_client, socket_timeout=timeout, socket_connect_timeout=timeout
            )
            self._owns_client = True
        else:
            self._client = url_or_client
            self._owns_client = False
        self._script = self._client.register_script(_GCRA_LUA)
        self._prefix = prefix
        self._retry_after_failure = retry_after_failure
        self._warn_every = warn_every
        self._skip_until = 0.0
        self._last_warning = -float("inf")
        self._rejected = RATE_LIMIT_REJECTIONS.labels("redis")
        self._fail_open = RATE_LIMIT_FAIL_OPEN.labels("redis")

    async def hit(self, key: str, limit: int, window_s: float) -> RateDecision:
        interval, window = _params(limit, window_s)
        now = time.monotonic()
        if now < self._skip_until:
            return self._let_through(limit, None)
        try:
            allowed, wait_us, remaining = await self._script(
                keys=[self._prefix + key], args=[interval, window]
            )
        except (RedisError, OSError, TimeoutError) as exc:
            self._skip_until = time.monotonic() + self._retry_after_failure
            return self._let_through(limit, exc)
        if not allowed:
            self._rejected.inc()
            return _denied(int(wait_us))
        return RateDecision(True, 0, int(remaining))

    def _let_through(self, limit: int, error: BaseException | None) -> RateDecision:
        self._fail_open.inc()
        now = time.monotonic()
        if error is not None and now - self._last_warning >= self._warn_every:
            self._last_warning = now
            log.warning("rate_limit_store_unreachable_failing_open", error=repr(error))
        return RateDecision(True, 0, limit - 1)

    async def close(self) -> None:
        if self._owns_client:
            await self._client.aclose()
