"""Outbox → relay → broker → EventConsumer → handler, for both brokers: exactly-once effects,
per-key order, poison messages to `<topic>.dlq`, and a relay sweeping what a dead process left."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import text

from parovoz.chassis import context
from parovoz.chassis.db import Database, UnitOfWork
from parovoz.chassis.events.brokers import Broker, Record, dlq_topic
from parovoz.chassis.events.cloudevents import CloudEvent, new_event
from parovoz.chassis.events.consumer import EventConsumer
from parovoz.chassis.events.outbox import OutboxRelay, write_outbox
from parovoz.chassis.events.registry import EventDef
from parovoz.chassis.service import ServiceContext, Subscription

from .conftest import collect, eventually, unique


def service_context(name: str, db: Database, broker: Broker) -> ServiceContext:
    # the consumer touches only name, db and broker
    return ServiceContext(name=name, settings=None, db=db, broker=broker, tokens=None, limiter=None)  # type: ignore[arg-type]


async def record_effect(ctx: ServiceContext, uow: UnitOfWork, event: CloudEvent) -> None:
    if event.data.get("poison"):
        raise RuntimeError("cannot handle a poisoned order")
    # the consumer sets the event's correlation id while handling it
    assert context.correlation_id.get() == event.correlationid
    await uow.conn.execute(
        text("INSERT INTO effects (event_id, subject, seq) VALUES (:id, :subject, :seq)"),
        {"id": event.id, "subject": event.subject, "seq": event.data["seq"]},
    )


async def effects(db: Database) -> list[Any]:
    async with db.connect() as conn:
        return (await conn.execute(text("SELECT event_id, subject, seq FROM effects ORDER BY id"))).all()


async def emit_orders(
    db: Database, event: EventDef, subjects: list[str], per_subject: int
) -> list[CloudEvent]:
    emitted: list[CloudEvent] = []
    for seq in range(per_subject):
        async with db.transaction() as uow:
            for subject in subjects:
                data = {"orderId": subject, "seq": seq}
                emitted.append(await uow.emit(event.name, subject=subject, data=data))
    return emitted


async def test_outbox_to_handler_exactly_once_in_order(
    broker: Broker, service_db: Database, order_event: EventDef
) -> None:
    relay = OutboxRelay(service_db, broker, sweep_interval=5.0)  # promptness comes from wake()
    service_db.add_commit_listener(relay.wake)
    await relay.start()
    ctx = service_context(unique("consumer"), service_db, broker)
    consumer = EventConsumer(ctx, [Subscription(order_event.name, record_effect)], base_backoff=0.01)
    await consumer.start()
    try:
        token = context.correlation_id.set("corr-pipeline")
        try:
            emitted = await emit_orders(service_db, order_event, ["a", "b", "c", "d"], 10)
        finally:
            context.correlation_id.reset(token)
        assert all(e.correlationid == "corr-pipeline" for e in emitted)

        async def all_handled() -> bool:
            return len(await effects(service_db)) >= len(emitted)

        await eventually(all_handled, deadline=30)
        rows = await effects(service_db)
        assert sorted(r.event_id for r in rows) == sorted(e.id for e in emitted)
        for subject in "abcd":  # per key: handled in the order emitted
            assert [r.seq for r in rows if r.subject == subject] == list(range(10))

        # the same records delivered again (a relay that died before marking them) change nothing
        await broker.publish(
            [Record(topic=order_event.topic, key=e.subject.encode(), value=e.to_json()) for e in emitted[:8]]
        )

        async def duplicates_seen() -> bool:
            return consumer.duplicates >= 8

        await eventually(duplicates_seen)
        assert len(await effects(service_db)) == len(emitted)
        assert consumer.handled == len(emitted)
        assert relay.published == len(emitted)
        async with service_db.connect() as conn:
            unpublished = await conn.scalar(text("SELECT count(*) FROM outbox WHERE published_at IS NULL"))
        assert unpublished == 0
    finally:
        await consumer.stop()
        await relay.stop()


async def test_poison_and_invalid_records_go_to_the_dlq(
    broker: Broker, service_db: Database, order_event: EventDef
) -> None:
    ctx = service_context(unique("consumer"), service_db, broker)
    consumer = EventConsumer(
        ctx, [Subscription(order_event.name, record_effect)], max_attempts=3, base_backoff=0.01
    )
    await consumer.start()
    dlq_reader = broker.consumer(unique("dlq-reader"), [dlq_topic(order_event.topic)])
    await dlq_reader.start()
    try:
        poisoned = new_event(
            order_event.name, subject="p", data={"orderId": "p", "seq": 0, "poison": True}, service="shop"
        )
        newer = CloudEvent.from_dict(
            {**poisoned.to_dict(), "type": "com.parovoz." + order_event.topic + ".v2"}
        )
        healthy = new_event(order_event.name, subject="p", data={"orderId": "p", "seq": 1}, service="shop")
        # before the poison, in the same batch transaction: rolled back with it, then handled alone
        neighbour = new_event(order_event.name, subject="p", data={"orderId": "p", "seq": -1}, service="shop")
        topic = order_event.topic
        await broker.publish(
            [
                Record(topic=topic, key=b"p", value=neighbour.to_json()),
                Record(topic=topic, key=b"p", value=poisoned.to_json()),
                Record(topic=topic, key=b"p", value=b"{this is not json"),
                Record(topic=topic, key=b"p", value=newer.to_json()),  # nobody here reads v2: skipped
                Record(topic=topic, key=b"p", value=healthy.to_json()),
            ]
        )

        async def healthy_handled() -> bool:
            return consumer.handled == 2

        await eventually(healthy_handled, deadline=30)  # the poison did not block the partition
        assert [r.event_id for r in await effects(service_db)] == [neighbour.id, healthy.id]
        assert consumer.skipped == 1

        parked = await collect(dlq_reader, 2, deadline=30)
        assert [r.value for r in parked] == [poisoned.to_json(), b"{this is not json"]
        first, second = parked
        assert first.header("attempts") == b"3"
        assert b"RuntimeError: cannot handle a poisoned order" in (first.header("error") or b"")
        assert first.header("original-topic") == topic.encode()
        assert first.header("original-offset") is not None
        assert second.header("attempts") == b"0"
        assert (second.header("error") or b"").startswith(b"invalid CloudEvent")
        assert consumer.dead_lettered == 2
    finally:
        await dlq_reader.close()
        await consumer.stop()


async def test_new_relay_sweeps_rows_left_by_a_dead_process(
    broker: Broker, service_db: Database, order_event: EventDef
) -> None:
    # a process committed events and died before its relay ran: the rows are all that is left
    events = [
        new_event(order_event.name, subject=f"s{i % 3}", data={"orderId": "x", "seq": i}, service="shop")
        for i in range(12)
    ]
    async with service_db.transaction() as uow:
        await write_outbox(uow.conn, events[:6])
    async with service_db.transaction() as uow:
        await write_outbox(uow.conn, events[6:])
    async with service_db.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM outbox WHERE published_at IS NULL")) == 12

    await broker.ensure_topics([order_event.topic])
    reader = broker.consumer(unique("reader"), [order_event.topic])
    await reader.start()
    # two relays at once (replicas of one service): the advisory lock keeps one publisher at a time
    relays = [OutboxRelay(service_db, broker, sweep_interval=0.2, batch_size=5) for _ in range(2)]
    for relay in relays:
        await relay.start()  # never woken: only the sweeper can find these rows
    try:
        got = await collect(reader, 12, deadline=30)
        got.extend(await reader.getmany(0.5))
        published = [CloudEvent.from_json(r.value) for r in got]
        assert sorted(e.id for e in published) == sorted(e.id for e in events)  # each exactly once
        for subject in ("s0", "s1", "s2"):
            seqs = [e.data["seq"] for e in published if e.subject == subject]
            assert seqs == sorted(seqs)
        assert all(r.header("content-type") == b"application/cloudevents+json" for r in got)
        assert sum(relay.published for relay in relays) == 12
    finally:
        await reader.close()
        for relay in relays:
            await relay.stop()
    async with service_db.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM outbox WHERE published_at IS NULL")) == 0


async def test_relay_retries_when_the_broker_fails(service_db: Database, order_event: EventDef) -> None:
    class FlakyBroker:
        def __init__(self) -> None:
            self.calls = 0
            self.records: list[Record] = []

        async def publish(self, records: list[Record]) -> None:
            self.calls += 1
            if self.calls == 1:
                raise ConnectionError("broker down")
            self.records.extend(records)

    flaky = FlakyBroker()
    relay = OutboxRelay(service_db, flaky, sweep_interval=0.05)  # type: ignore[arg-type]
    service_db.add_commit_listener(relay.wake)
    await relay.start()
    try:
        emitted = await emit_orders(service_db, order_event, ["k"], 3)

        async def published() -> bool:
            return len(flaky.records) == 3

        await eventually(published)
        assert relay.failures == 1
        assert [orjson.loads(r.value)["id"] for r in flaky.records] == [e.id for e in emitted]
    finally:
        await relay.stop()
