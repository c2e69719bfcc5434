"""Event pipeline throughput: outbox commit → relay → broker → EventConsumer → handler.

Runs against a private tansu broker (as the tests start it) and the PostgreSQL log, beside raw
aiokafka produce → consume on the same broker, and prints events/s, the ratio to raw, and the
commit → publish latency (p50/p99). Usage: `.venv/bin/python bench/bench_events.py [events]`.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from parovoz.chassis.db import Database, UnitOfWork
from parovoz.chassis.db.migrate import migrate
from parovoz.chassis.events import registry
from parovoz.chassis.events.brokers import Broker
from parovoz.chassis.events.brokers.kafka import KafkaBroker
from parovoz.chassis.events.brokers.pglog import PgLogBroker
from parovoz.chassis.events.cloudevents import CloudEvent
from parovoz.chassis.events.consumer import EventConsumer
from parovoz.chassis.events.outbox import OutboxRelay
from parovoz.chassis.models import CamelModel
from parovoz.chassis.service import ServiceContext, Subscription
from tests import infra

WRITERS = 8
EVENTS_PER_TRANSACTION = 10
PAYLOAD = {"orderId": "o-1", "amount": 1999, "currency": "RUB", "note": "x" * 200}


class BenchOrderV1(CamelModel):
    order_id: str
    amount: int
    currency: str
    note: str


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def raw_kafka(bootstrap: str, count: int) -> float:
    """Raw aiokafka (same producer settings as KafkaBroker) produce → consume; events/s."""
    topic = f"bench-raw-{uuid.uuid4().hex[:8]}"
    value = orjson.dumps({"data": PAYLOAD, "id": str(uuid.uuid4())})
    broker = KafkaBroker(bootstrap, idempotence=False)
    await broker.ensure_topics([topic])
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=1 << 20)
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=topic,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await producer.start()
    await consumer.start()
    while not consumer.assignment():
        await consumer.getmany(timeout_ms=100)
    started = time.perf_counter()
    received = 0

    async def consume() -> None:
        nonlocal received
        while received < count:
            batches = await consumer.getmany(timeout_ms=500)
            received += sum(len(msgs) for msgs in batches.values())

    reader = asyncio.create_task(consume())
    for offset in range(0, count, 500):
        futures = [
            await producer.send(topic, value, key=f"k{i % 64}".encode())
            for i in range(offset, min(count, offset + 500))
        ]
        await asyncio.gather(*futures)
    await reader
    elapsed = time.perf_counter() - started
    await consumer.stop()
    await producer.stop()
    return count / elapsed


async def write_events(db: Database, name: str, count: int, committed_at: dict[str, float]) -> None:
    """WRITERS concurrent writers, EVENTS_PER_TRANSACTION events per committed transaction."""

    async def writer(index: int) -> None:
        for batch in range(count // WRITERS // EVENTS_PER_TRANSACTION):
            async with db.transaction() as uow:
                for j in range(EVENTS_PER_TRANSACTION):
                    await uow.emit(name, subject=f"o-{index}-{(batch + j) % 16}", data=PAYLOAD)
            now = time.perf_counter()
            for event in uow.events:
                committed_at[event.id] = now

    await asyncio.gather(*(writer(i) for i in range(WRITERS)))


async def relay_drain(broker: Broker, db_url: str, count: int) -> float:
    """Outbox → broker alone: `count` committed rows, then one relay publishes them; events/s."""
    name = f"bench.r{uuid.uuid4().hex[:8]}.placed.v1"
    registry.register(registry.EventDef(name=name, owner="bench", data=BenchOrderV1, description="bench"))
    db = Database(db_url, service="bench", pool_size=WRITERS + 4)
    await migrate(db, None)
    await write_events(db, name, count, {})
    relay = OutboxRelay(db, broker)
    started = time.perf_counter()
    published = await relay.drain()
    elapsed = time.perf_counter() - started
    await db.dispose()
    registry.unregister(name)
    assert published == count, (published, count)
    return count / elapsed


async def pipeline(broker: Broker, db_url: str, count: int) -> tuple[float, list[float]]:
    """Commit events through the outbox; events/s until the last handler ran, and latencies (s)."""
    name = f"bench.o{uuid.uuid4().hex[:8]}.placed.v1"
    registry.register(registry.EventDef(name=name, owner="bench", data=BenchOrderV1, description="bench"))
    db = Database(db_url, service="bench", pool_size=WRITERS + 4)
    await migrate(db, None)
    committed_at: dict[str, float] = {}
    published_at: dict[str, float] = {}

    def on_published(payloads: Sequence[bytes]) -> None:
        now = time.perf_counter()
        for raw in payloads:
            published_at[orjson.loads(raw)["id"]] = now

    relay = OutboxRelay(db, broker, on_published=on_published)
    db.add_commit_listener(relay.wake)
    handled = 0
    done = asyncio.Event()

    async def handler(ctx: ServiceContext, uow: UnitOfWork, event: CloudEvent) -> None:
        nonlocal handled
        handled += 1
        if handled >= count:
            done.set()

    ctx = ServiceContext(name="bench", settings=None, db=db, broker=broker, tokens=None, limiter=None)  # type: ignore[arg-type]
    consumer = EventConsumer(ctx, [Subscription(name, handler)])
    await consumer.start()
    await relay.start()
    await asyncio.sleep(4)  # let the consumer join its group (tansu delays a first join ~3 s)

    started = time.perf_counter()
    await write_events(db, name, count, committed_at)
    await asyncio.wait_for(done.wait(), 120)
    elapsed = time.perf_counter() - started
    await consumer.stop()
    await relay.stop()
    await db.dispose()
    registry.unregister(name)
    latencies = [published_at[i] - committed_at[i] for i in committed_at if i in published_at]
    return count / elapsed, latencies


def report(label: str, drain: float, rate: float, latencies: list[float], raw: float) -> None:
    p50, p99 = percentile(latencies, 0.5) * 1000, percentile(latencies, 0.99) * 1000
    mean = statistics.mean(latencies) * 1000
    print(f"{label}")
    print(f"  outbox → broker (relay)  {drain:9.0f} events/s  ratio to raw {drain / raw:5.2f}")
    print(f"  commit → handler         {rate:9.0f} events/s  ratio to raw {rate / raw:5.2f}")
    print(f"  commit → publish         p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  mean {mean:6.1f} ms")


async def run(pg_url: str, bootstrap: str, names: list[str], count: int) -> None:
    for db_name in names:
        await infra.create_database(pg_url, db_name)
    urls = [infra.database_url(pg_url, db_name) for db_name in names]
    raw = await raw_kafka(bootstrap, count)
    print(f"raw aiokafka produce → consume (acks=all, same broker): {raw:.0f} events/s")

    kafka = KafkaBroker(bootstrap, idempotence=False, client_id="bench")
    await kafka.start()
    drain = await relay_drain(kafka, urls[0], count)
    rate, latencies = await pipeline(kafka, urls[1], count)
    await kafka.stop()
    report("Kafka (tansu)", drain, rate, latencies, raw)

    pglog = PgLogBroker(urls[4])
    await pglog.start()
    drain = await relay_drain(pglog, urls[2], count)
    rate, latencies = await pipeline(pglog, urls[3], count)
    await pglog.stop()
    report("PgLogBroker (PostgreSQL)", drain, rate, latencies, raw)


def main(count: int) -> None:
    with infra.postgres() as pg_url, infra.kafka() as bootstrap:
        names = [f"pz_bench_{uuid.uuid4().hex[:8]}" for _ in range(5)]
        try:
            asyncio.run(run(pg_url, bootstrap, names, count))
        finally:
            infra.drop_databases(pg_url, names)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 8_000)
