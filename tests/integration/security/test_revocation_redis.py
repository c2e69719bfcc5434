"""RedisRevocationList against a real Redis: instances share revocations through pub/sub within a
second, a missed message is healed by the resync, and a Redis outage keeps the last known list."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from parovoz.chassis.security.revocation import RedisRevocationList, RevocationList
from tests import infra

MakeList = Callable[..., Awaitable[RedisRevocationList]]


def unique() -> str:
    return f"test:revoked:{uuid.uuid4().hex}"


async def eventually(check: Callable[[], bool], within: float) -> float:
    """Seconds until `check()` held; fails after `within`."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < within, f"not within {within}s"
        await asyncio.sleep(0.01)
    return time.monotonic() - started


@pytest.fixture
async def make_list() -> AsyncIterator[MakeList]:
    made: list[RedisRevocationList] = []

    async def make(url: str, key: str, **options: float) -> RedisRevocationList:
        revocations = RedisRevocationList(url, key=key, channel=key, **options)
        await revocations.start()
        made.append(revocations)
        return revocations

    yield make
    for revocations in made:
        await revocations.close()


async def test_a_revocation_reaches_the_other_instance_within_a_second(
    redis_url: str, make_list: MakeList
) -> None:
    key = unique()
    # resync far away: only pub/sub can bring it in time
    first = await make_list(redis_url, key, resync_interval=60)
    second = await make_list(redis_url, key, resync_interval=60)
    assert isinstance(second, RevocationList)
    await asyncio.sleep(0.1)  # both subscribed
    await first.revoke(["session-a", "session-b"], time.time() + 60)
    assert first.is_revoked("session-a")  # at once where it was revoked
    took = await eventually(lambda: second.is_revoked("session-b"), within=1.0)
    assert took < 1.0 and second.is_revoked("session-a")
    assert not second.is_revoked("session-c")


async def test_a_new_instance_starts_with_the_shared_list(redis_url: str, make_list: MakeList) -> None:
    key = unique()
    first = await make_list(redis_url, key)
    await first.revoke(["session-a"], time.time() + 60)
    await first.revoke(["session-gone"], time.time() - 1)  # already expired: not shared
    late = await make_list(redis_url, key)
    assert late.is_revoked("session-a") and not late.is_revoked("session-gone")


async def test_a_missed_message_is_healed_by_the_resync(redis_url: str, make_list: MakeList) -> None:
    key = unique()
    follower = await make_list(redis_url, key, resync_interval=0.3)
    # Written to the shared set without a message (as if the message were lost on the way).
    client = Redis.from_url(redis_url)
    try:
        await client.zadd(key, {"session-missed": time.time() + 60})
        await eventually(lambda: follower.is_revoked("session-missed"), within=2.0)
        await client.delete(key)
    finally:
        await client.aclose()
    assert follower.synced_at is not None


async def test_a_garbled_message_is_ignored(redis_url: str, make_list: MakeList) -> None:
    key = unique()
    follower = await make_list(redis_url, key, resync_interval=60)
    await asyncio.sleep(0.1)
    client = Redis.from_url(redis_url)
    try:
        await client.publish(key, b"not json")
        await client.publish(key, b'{"sessionIds": "s", "until": 1}')
        await client.publish(key, b'{"sessionIds": ["s-ok"], "until": %d}' % (time.time() + 60))
    finally:
        await client.aclose()
    await eventually(lambda: follower.is_revoked("s-ok"), within=1.0)  # the listener survived


@contextlib.contextmanager
def redis_on(port: int) -> Iterator[subprocess.Popen[bytes]]:
    """A private redis-server on `port` (restartable on the same port), nothing kept on disk."""
    workdir = tempfile.mkdtemp(prefix="pz-test-revocation-redis-")
    proc = subprocess.Popen(
        [infra.redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", workdir],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        infra.wait_port("127.0.0.1", port, proc=proc)
        yield proc
    finally:
        proc.terminate()
        proc.wait(10)


def sync_failures(operation: str) -> float:
    labels = {"backend": "redis", "operation": operation}
    return REGISTRY.get_sample_value("parovoz_revocation_sync_failures_total", labels) or 0.0


async def test_a_redis_outage_keeps_the_last_known_list(make_list: MakeList) -> None:
    port = infra.free_port()
    url = f"redis://127.0.0.1:{port}/0"
    key = unique()
    with redis_on(port):
        writer = await make_list(url, key, resync_interval=0.2)
        follower = await make_list(url, key, resync_interval=0.2)
        await writer.revoke(["before-outage"], time.time() + 60)
        await eventually(lambda: follower.is_revoked("before-outage"), within=1.0)
        failures_before = sync_failures("resync")

    # Redis is gone: lookups go on from memory, nothing raises on the request path.
    await asyncio.sleep(0.6)
    assert follower.is_revoked("before-outage") and not follower.is_revoked("other")
    assert sync_failures("resync") > failures_before
    # A revocation during the outage holds where it was made and says Redis failed (the event
    # consumer then retries it as an outage).
    with pytest.raises(ConnectionError):
        await writer.revoke(["during-outage"], time.time() + 60)
    assert writer.is_revoked("during-outage")

    with redis_on(port):  # back, empty: the instances reconnect and follow again
        await eventually(
            lambda: follower.synced_at is not None and time.time() - follower.synced_at < 0.5, 5.0
        )
        await writer.revoke(["during-outage"], time.time() + 60)  # the retry
        await eventually(lambda: follower.is_revoked("during-outage"), within=1.0)
        assert follower.is_revoked("before-outage")  # kept through an empty Redis too
