"""The list of ended sessions whose access tokens must be refused before they expire.

An access token is verified locally (signature, claims) and lives up to its TTL; when its session
ends (logout, revocation, password change, block, deletion) the token must stop working at once.
Auth feeds this list from its own `auth.user.sessions.revoked.v1` events; every verifier asks it
`is_revoked(sid)` on every request: a synchronous dict lookup, no network on the hot path.

Each entry lives `until` a unix time after which the session's tokens are expired anyway, so the
list holds only the sessions ended within the last access-token TTL.

Backends:
- `MemoryRevocationList`: one process (embedded mode shares one instance between every service
  and the gateway; distributed mode without Redis: each process knows only what it was told).
- `RedisRevocationList`: the same in-memory lookups, kept in step across processes through a
  sorted set (`pz:revoked-sessions`, member = session id, score = `until`) plus pub/sub for instant
  fan-out; a full resync at start, every few seconds and after every reconnect heals a missed
  message. While Redis is down the last known list keeps serving (requests never fail for it);
  failures are logged and counted (`parovoz_revocation_sync_failures_total`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from parovoz.chassis.obs.logging import get_logger
from parovoz.chassis.obs.metrics import REVOCATION_SYNC_FAILURES, REVOKED_SESSIONS
from parovoz.chassis.tasks import cancel

if TYPE_CHECKING:
    from parovoz.chassis.config import Settings

__all__ = [
    "CHANNEL",
    "KEY",
    "MemoryRevocationList",
    "RedisRevocationList",
    "RevocationList",
    "revocation_list",
]

KEY = "pz:revoked-sessions"
CHANNEL = "pz:revoked-sessions"
DEFAULT_RESYNC_SECONDS = 5.0
_PRUNE_EVERY_S = 30.0

log = get_logger(__name__)


@runtime_checkable
class RevocationList(Protocol):
    backend: str

    def is_revoked(self, session_id: str, now: float | None = None) -> bool:
        """Whether tokens of `session_id` are to be refused (synchronous, in memory, O(1))."""
        ...

    async def revoke(self, session_ids: Iterable[str], until: float) -> None:
        """Refuse the sessions' tokens until the unix time `until` (idempotent; a later `until` wins).
        Raises `ConnectionError` when a shared store could not take it (this process still refuses)."""
        ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


class MemoryRevocationList:
    """Session id -> unix time its entry expires; expired entries are pruned as new ones come."""

    backend = "memory"

    def __init__(self) -> None:
        self._until: dict[str, float] = {}
        self._next_prune = 0.0
        self._size = REVOKED_SESSIONS.labels(self.backend)

    def __len__(self) -> int:
        return len(self._until)

    def is_revoked(self, session_id: str, now: float | None = None) -> bool:
        # A pure read (expired entries go in `prune`, run by `add`): the request path only looks.
        until = self._until.get(session_id)
        return until is not None and (time.time() if now is None else now) < until

    def add(self, session_ids: Iterable[str], until: float, now: float | None = None) -> int:
        """Record entries synchronously; how many were new or extended (past `until`s are ignored)."""
        now = time.time() if now is None else now
        if until <= now:
            return 0
        changed = 0
        for session_id in session_ids:
            if self._until.get(session_id, 0.0) < until:
                self._until[session_id] = until
                changed += 1
        if now >= self._next_prune:
            self.prune(now)
        else:
            self._size.set(len(self._until))
        return changed

    def prune(self, now: float | None = None) -> int:
        """Drop the expired entries; how many went."""
        now = time.time() if now is None else now
        expired = [session_id for session_id, until in self._until.items() if until <= now]
        for session_id in expired:
            del self._until[session_id]
        self._next_prune = now + _PRUNE_EVERY_S
        self._size.set(len(self._until))
        return len(expired)

    async def revoke(self, session_ids: Iterable[str], until: float) -> None:
        self.add(session_ids, until)

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None


class RedisRevocationList(MemoryRevocationList):
    """The in-memory list, shared with every other process through Redis (see the module doc)."""

    backend = "redis"

    def __init__(
        self,
        url: str,
        *,
        key: str = KEY,
        channel: str = CHANNEL,
        resync_interval: float = DEFAULT_RESYNC_SECONDS,
        timeout: float = 0.5,
        warn_every: float = 10.0,
    ) -> None:
        super().__init__()
        self._key = key
        self._channel = channel
        self._resync_interval = resync_interval
        self._warn_every = warn_every
        self._client = Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        # Pub/sub reads block until a message comes: no read timeout on that connection.
        self._subscriber = Redis.from_url(url, socket_connect_timeout=timeout)
        self._tasks: list[asyncio.Task[None]] = []
        self._last_warning = -float("inf")
        self._failing = False
        # redis-py may turn a cancellation inside a connect into its own error: the loops check this
        self._closing = False
        self.synced_at: float | None = None  # unix time of the last complete resync

    async def start(self) -> None:
        """Load the list (an unreachable Redis is tolerated: the loops keep trying), then follow it."""
        try:
            await self.resync()
        except RedisError as exc:
            self._failed("resync", exc)
        self._tasks = [
            asyncio.create_task(self._follow(), name="revocation-list-subscriber"),
            asyncio.create_task(self._resync_loop(), name="revocation-list-resync"),
        ]
        log.info("revocation_list_started", backend=self.backend, key=self._key, entries=len(self))

    async def close(self) -> None:
        self._closing = True
        for task in self._tasks:
            await cancel(task)
        self._tasks = []
        await self._subscriber.aclose()
        await self._client.aclose()

    async def revoke(self, session_ids: Iterable[str], until: float) -> None:
        ids = list(dict.fromkeys(session_ids))
        now = time.time()
        self.add(ids, until, now)  # this process refuses them at once, whatever Redis does
        if not ids or until <= now:
            return
        message = orjson.dumps({"sessionIds": ids, "until": until})
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.zadd(self._key, dict.fromkeys(ids, until), gt=True)
                pipe.zremrangebyscore(self._key, "-inf", now)
                pipe.publish(self._channel, message)
                await pipe.execute()
        except RedisError as exc:
            self._failed("revoke", exc)
            # An outage (not a bug) to the event consumer: it retries until Redis is back.
            raise ConnectionError("the revocation list's Redis is unreachable") from exc
        self._recovered()

    async def resync(self) -> int:
        """Merge every live entry of the shared set into ours; how many were new or extended."""
        now = time.time()
        entries = await self._client.zrange(self._key, now, "+inf", byscore=True, withscores=True)
        changed = 0
        for member, score in entries:
            session_id = member.decode() if isinstance(member, bytes) else str(member)
            changed += self.add((session_id,), float(score), now)
        self.synced_at = time.time()
        self._recovered()
        return changed

    # -- background -----------------------------------------------------------------------------

    async def _resync_loop(self) -> None:
        while not self._closing:
            await asyncio.sleep(self._resync_interval)
            try:
                changed = await self.resync()
            except RedisError as exc:
                self._failed("resync", exc)
                continue
            if changed:
                # Pub/sub should have brought these: a message was missed (and is now healed).
                log.info("revocation_list_healed", entries=changed)

    async def _follow(self) -> None:
        """Apply every published revocation; on a lost connection reconnect, then resync."""
        backoff = 0.1
        while not self._closing:
            pubsub = self._subscriber.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._channel)
                backoff = 0.1
                await self.resync()  # whatever was published while we were not listening
                # Short waits, not `listen()`: redis-py can swallow a cancellation inside a blocking
                # read, and `close()` must not hang on it.
                while not self._closing:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is not None:
                        self._apply(message.get("data"))
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                self._failed("subscribe", exc)
            finally:
                try:
                    await pubsub.aclose()
                except Exception:  # the connection is already gone: nothing to tidy
                    pass
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self._resync_interval)

    def _apply(self, raw: object) -> None:
        try:
            payload = orjson.loads(raw) if isinstance(raw, bytes | str) else None
            ids, until = payload["sessionIds"], float(payload["until"])  # type: ignore[index]
            if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                raise TypeError("sessionIds")
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            log.warning("revocation_message_ignored", channel=self._channel)
            return
        self.add(ids, until)

    def _failed(self, operation: str, exc: BaseException) -> None:
        REVOCATION_SYNC_FAILURES.labels(self.backend, operation).inc()
        self._failing = True
        now = time.monotonic()
        if now - self._last_warning >= self._warn_every:
            self._last_warning = now
            log.warning(
                "revocation_list_redis_unavailable",
                operation=operation,
                error=repr(exc),
                entries=len(self),
                note="the last known list keeps serving",
            )

    def _recovered(self) -> None:
        if self._failing:
            self._failing = False
            log.info("revocation_list_redis_recovered", entries=len(self))


def revocation_list(settings: Settings) -> MemoryRevocationList:
    """Distributed mode's list: on Redis when `PAROVOZ_REDIS_URL` is set, else this process's own."""
    if settings.redis_url:
        resync = float(settings.get("REVOCATION_RESYNC_SECONDS") or DEFAULT_RESYNC_SECONDS)
        return RedisRevocationList(settings.redis_url, resync_interval=resync)
    log.warning(
        "revocation_list_in_memory",
        note="PAROVOZ_REDIS_URL not set: only the process that handles Auth's revocation events "
        "refuses ended sessions' access tokens before they expire",
    )
    return MemoryRevocationList()
