"""The consumer runner: a service's subscriptions fed from the broker, idempotently and in order.

For each record: parse the CloudEvent (invalid → `<topic>.dlq`), find the handler by event name
(a type nobody here subscribed to, e.g. a newer version, is skipped), then in one transaction
claim the event in the inbox and run the handler, so the effect and the "handled" mark commit
together. A failing handler is retried with exponential backoff, then parked on `<topic>.dlq`.
Offsets are committed after handling: a crash re-delivers, and the inbox makes that harmless.
Partitions are handled concurrently, each one's records strictly in order.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING

from parovoz.chassis import context
from parovoz.chassis.events.brokers import Consumer, Record, dlq_topic
from parovoz.chassis.events.cloudevents import CloudEvent, InvalidEvent
from parovoz.chassis.events.failures import is_infrastructure_failure
from parovoz.chassis.events.inbox import claim
from parovoz.chassis.events.registry import get
from parovoz.chassis.obs.metrics import EVENTS_CONSUMED, EVENTS_FAILED
from parovoz.chassis.tasks import finish

if TYPE_CHECKING:
    from parovoz.chassis.service import EventHandler, ServiceContext, Subscription

log = logging.getLogger(__name__)
# While the database or broker is down, the batch is retried at most this far apart (seconds).
MAX_OUTAGE_BACKOFF = 10.0


class EventConsumer:
    def __init__(
        self,
        ctx: ServiceContext,
        subscriptions: Sequence[Subscription],
        *,
        max_attempts: int = 5,
        base_backoff: float = 0.2,
        poll_timeout: float = 1.0,
        batch_size: int = 100,
    ) -> None:
        self.ctx = ctx
        self.group = ctx.name
        self.max_attempts = max_attempts
        self.base_backoff = base_backoff
        self.poll_timeout = poll_timeout
        self.batch_size = batch_size  # events of one partition handled in one transaction
        self.handlers: dict[str, EventHandler] = {}
        topics: list[str] = []
        for sub in subscriptions:
            if sub.event in self.handlers:
                raise ValueError(f"{ctx.name} subscribes to {sub.event} twice")
            self.handlers[sub.event] = sub.handler
            topics.append(get(sub.event).topic)
        self.topics = list(dict.fromkeys(topics))
        self._consumer: Consumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        # counters for metrics
        self.handled = 0
        self.duplicates = 0
        self.skipped = 0
        self.dead_lettered = 0

    async def start(self) -> None:
        if self._task is not None or not self.topics:
            return
        await self.ctx.broker.ensure_topics(self.topics + [dlq_topic(t) for t in self.topics])
        self._consumer = self.ctx.broker.consumer(self.group, self.topics)
        await self._consumer.start()
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name=f"event-consumer-{self.group}")

    async def stop(self, grace: float = 30.0) -> None:
        """Finish and commit the batch in hand, then leave the group."""
        if self._task is None:
            return
        self._stopping = True
        await finish(self._task, grace)
        self._task = None
        if self._consumer is not None:
            consumer, self._consumer = self._consumer, None
            await consumer.close()

    async def _run(self) -> None:
        assert self._consumer is not None
        pending: list[Record] = []
        backoff = self.base_backoff
        while not self._stopping:
            try:
                if not pending:
                    pending = await self._consumer.getmany(self.poll_timeout)
                    if not pending:
                        continue
                await self.handle_records(pending)
                await self._consumer.commit(pending)
                pending = []
                backoff = self.base_backoff
            except Exception:
                # broker or database unavailable: the fetch position is already past these records,
                # so handle the same batch again (the inbox skips what was done) until it commits
                log.exception("event consumer %s failed; retrying the batch in %.1fs", self.group, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_OUTAGE_BACKOFF)

    async def handle_records(self, records: Sequence[Record]) -> None:
        """Handle a fetched batch: partitions concurrently, each partition's records in order."""
        by_partition: dict[tuple[str, int], list[Record]] = defaultdict(list)
        for r in records:
            by_partition[(r.topic, r.partition)].append(r)
        await asyncio.gather(*(self._handle_partition(batch) for batch in by_partition.values()))

    async def _handle_partition(self, records: list[Record]) -> None:
        run: list[tuple[Record, CloudEvent]] = []
        for record in sorted(records, key=lambda r: r.offset):
            try:
                event: CloudEvent | None = CloudEvent.from_json(record.value)
            except InvalidEvent:
                event = None
            if event is not None and event.name in self.handlers:
                run.append((record, event))
                if len(run) >= self.batch_size:
                    await self._handle_run(run)
                    run = []
                continue
            await self._handle_run(run)  # keep the partition's order around the odd record
            run = []
            await self.handle_record(record)
        await self._handle_run(run)

    async def _handle_run(self, run: list[tuple[Record, CloudEvent]]) -> None:
        """Consecutive events of one partition in one transaction (one commit, not one per event).

        If anything fails the transaction rolls back as a whole and each event is handled on its
        own, with retries and the DLQ, so one bad event cannot take its neighbours down.
        """
        if not run:
            return
        if len(run) > 1:
            handled = duplicates = 0
            try:
                async with self.ctx.db.transaction() as uow:
                    for _, event in run:
                        token = context.correlation_id.set(event.correlationid)
                        try:
                            if await claim(uow.conn, self.group, event):
                                await self.handlers[event.name](self.ctx, uow, event)
                                handled += 1
                            else:
                                duplicates += 1
                        finally:
                            context.correlation_id.reset(token)
            except Exception as exc:
                log.info("batch of %d events failed (%s); handling them one by one", len(run), exc)
            else:
                self.handled += handled
                self.duplicates += duplicates
                EVENTS_CONSUMED.labels(self.group, run[0][0].topic).inc(handled + duplicates)
                return
        for record, _ in run:
            await self.handle_record(record)

    async def handle_record(self, record: Record) -> None:
        try:
            event = CloudEvent.from_json(record.value)
        except InvalidEvent as exc:
            log.warning("invalid event at %s/%d@%d: %s", record.topic, record.partition, record.offset, exc)
            await self._dead_letter(record, f"invalid CloudEvent: {exc}", attempts=0)
            return
        handler = self.handlers.get(event.name)
        if handler is None:
            self.skipped += 1
            return
        token = context.correlation_id.set(event.correlationid)
        try:
            for attempt in range(1, self.max_attempts + 1):
                try:
                    async with self.ctx.db.transaction() as uow:
                        if not await claim(uow.conn, self.group, event):
                            self.duplicates += 1
                            EVENTS_CONSUMED.labels(self.group, record.topic).inc()
                            return
                        await handler(self.ctx, uow, event)
                    self.handled += 1
                    EVENTS_CONSUMED.labels(self.group, record.topic).inc()
                    return
                except Exception as exc:
                    if is_infrastructure_failure(exc):
                        # not the event's fault: never park it; the run loop retries the whole batch
                        raise
                    if attempt >= self.max_attempts:
                        log.exception(
                            "event %s (%s) failed %d times: to the DLQ", event.id, event.name, attempt
                        )
                        await self._dead_letter(record, f"{type(exc).__name__}: {exc}", attempts=attempt)
                        return
                    log.warning("event %s (%s) failed (attempt %d): %s", event.id, event.name, attempt, exc)
                    await asyncio.sleep(self.base_backoff * 2 ** (attempt - 1))
        finally:
            context.correlation_id.reset(token)

    async def _dead_letter(self, record: Record, error: str, *, attempts: int) -> None:
        headers = [
            *record.headers,
            ("error", error[:1000].encode()),
            ("attempts", str(attempts).encode()),
            ("original-topic", record.topic.encode()),
            ("original-partition", str(record.partition).encode()),
            ("original-offset", str(record.offset).encode()),
            ("consumer-group", self.group.encode()),
        ]
        await self.ctx.broker.publish(
            [Record(topic=dlq_topic(record.topic), key=record.key, value=record.value, headers=headers)]
        )
        self.dead_lettered += 1
        EVENTS_FAILED.labels(self.group, record.topic).inc()
