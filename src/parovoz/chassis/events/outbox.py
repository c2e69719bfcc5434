"""Transactional outbox: events are rows written with the state change; a relay publishes them.

The relay is woken after each commit that emitted events (prompt publishing) and also sweeps on a
timer, so rows left by a process that died between commit and publish are published too. It reads
unpublished rows in `seq` order under a transaction-scoped advisory lock, so only one relay per
database publishes at a time (replicas queue behind it) and per-key order is kept. A crash between
publish and marking the rows re-publishes them: consumers are idempotent (inbox).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from parovoz.chassis.events.brokers import Broker, Record
from parovoz.chassis.events.cloudevents import CloudEvent
from parovoz.chassis.obs.metrics import EVENTS_PUBLISHED, OUTBOX_LAG
from parovoz.chassis.tasks import finish

if TYPE_CHECKING:
    from parovoz.chassis.db import Database

log = logging.getLogger(__name__)

# structured-mode CloudEvents over Kafka (CloudEvents Kafka protocol binding)
CONTENT_TYPE_HEADER = ("content-type", b"application/cloudevents+json")
# advisory lock key of "the outbox publisher" (advisory locks are scoped to one database)
RELAY_LOCK_KEY = 0x7061726F766F7A  # "parovoz"

_INSERT = text(
    "INSERT INTO outbox (event_id, topic, key, payload) VALUES (:event_id, :topic, :key, :payload)"
)
_SELECT_UNPUBLISHED = text(
    "SELECT seq, topic, key, payload, EXTRACT(EPOCH FROM now() - created_at) AS age "
    "FROM outbox WHERE published_at IS NULL ORDER BY seq LIMIT :limit"
)
_MARK_PUBLISHED = text("UPDATE outbox SET published_at = now() WHERE seq = ANY(:seqs)")
_DELETE_OLD = text(
    "DELETE FROM outbox WHERE published_at IS NOT NULL "
    "AND published_at < now() - make_interval(secs => :retention)"
)


async def write_outbox(conn: AsyncConnection, events: Sequence[CloudEvent]) -> None:
    """Insert `events` into the outbox within the caller's transaction (key = subject)."""
    if not events:
        return
    await conn.execute(
        _INSERT,
        [{"event_id": e.id, "topic": e.topic, "key": e.subject, "payload": e.to_json()} for e in events],
    )


class OutboxRelay:
    """Publishes outbox rows to the broker, promptly after commits and by a periodic sweep."""

    def __init__(
        self,
        db: Database,
        broker: Broker,
        *,
        batch_size: int = 500,
        sweep_interval: float = 1.0,
        retention: float = 3600.0,
        on_published: Callable[[Sequence[bytes]], None] | None = None,
    ) -> None:
        self.db = db
        self.broker = broker
        self.batch_size = batch_size
        self.sweep_interval = sweep_interval
        self.retention = retention
        # called with the payloads of each acknowledged batch (benchmarks, tests)
        self.on_published = on_published
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._last_cleanup = 0.0
        # counters for metrics
        self.published = 0
        self.batches = 0
        self.failures = 0
        self.last_lag_seconds = 0.0  # age of the oldest row of the last published batch

    def wake(self) -> None:
        """Publish soon: a transaction that emitted events has committed (sync: commit listener)."""
        self._wake.set()

    async def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name=f"outbox-relay-{self.db.service}")

    async def stop(self, grace: float = 10.0) -> None:
        """Finish the batch in flight, publish what is committed by now, then stop."""
        if self._task is None:
            return
        self._stopping = True
        self._wake.set()
        await finish(self._task, grace)
        self._task = None

    async def _run(self) -> None:
        backoff = self.sweep_interval
        while True:
            self._wake.clear()
            try:
                await self.drain()
                backoff = self.sweep_interval
            except Exception:
                self.failures += 1
                log.exception("outbox relay failed to publish; rows stay in the outbox for a retry")
                backoff = min(max(backoff * 2, 0.1), 30.0)
                if self._stopping:
                    return
            if self._stopping:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), backoff)

    async def drain(self) -> int:
        """Publish every unpublished row (in seq order) now; returns how many were published."""
        total = 0
        while True:
            count = await self._publish_batch()
            total += count
            if count < self.batch_size:
                break
        now = time.monotonic()
        if now - self._last_cleanup > 60.0:
            self._last_cleanup = now
            async with self.db.engine.begin() as conn:
                await conn.execute(_DELETE_OLD, {"retention": self.retention})
        return total

    async def _publish_batch(self) -> int:
        async with self.db.engine.begin() as conn:
            # wait for the lock (another replica may be publishing): that keeps seq order and still
            # publishes promptly after our own commit, once the other batch is done
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": RELAY_LOCK_KEY})
            rows = (await conn.execute(_SELECT_UNPUBLISHED, {"limit": self.batch_size})).all()
            if not rows:
                OUTBOX_LAG.labels(self.db.service).set(0.0)
                return 0
            records = [
                Record(
                    topic=row.topic,
                    key=row.key.encode() if row.key is not None else None,
                    value=bytes(row.payload),
                    headers=[CONTENT_TYPE_HEADER],
                )
                for row in rows
            ]
            await self.broker.publish(records)
            await conn.execute(_MARK_PUBLISHED, {"seqs": [row.seq for row in rows]})
        self.published += len(rows)
        self.batches += 1
        self.last_lag_seconds = float(rows[0].age)
        OUTBOX_LAG.labels(self.db.service).set(self.last_lag_seconds)
        for topic, count in Counter(record.topic for record in records).items():
            EVENTS_PUBLISHED.labels(self.db.service, topic).inc(count)
        if self.on_published is not None:
            self.on_published([r.value for r in records])
        return len(rows)
