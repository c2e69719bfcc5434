"""A database outage while events are handled: retried until it ends, never parked on the DLQ."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import asyncpg
from sqlalchemy.engine import make_url

from parovoz.chassis.db import Database
from parovoz.chassis.events.brokers import Broker, dlq_topic
from parovoz.chassis.events.brokers.pglog import PgLogBroker
from parovoz.chassis.events.consumer import EventConsumer
from parovoz.chassis.events.outbox import OutboxRelay
from parovoz.chassis.events.registry import EventDef
from parovoz.chassis.service import Subscription

from .conftest import eventually, unique
from .test_pipeline import effects, emit_orders, record_effect, service_context


async def _set_connections(server_url: str, database: str, allowed: bool) -> None:
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS {str(allowed).lower()}')
        if not allowed:
            await conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", database
            )
    finally:
        await conn.close()


async def test_consumer_rides_out_a_database_outage(
    service_db: Database,
    order_event: EventDef,
    pg_server_url: str,
    make_database: Callable[[str], Awaitable[str]],
) -> None:
    broker: Broker = PgLogBroker(await make_database("pglog"))
    await broker.start()
    relay = OutboxRelay(service_db, broker, sweep_interval=0.2)
    await relay.start()
    ctx = service_context(unique("consumer"), service_db, broker)
    # few attempts and short backoff: an outage longer than all of them must still not reach the DLQ
    consumer = EventConsumer(
        ctx, [Subscription(order_event.name, record_effect)], max_attempts=2, base_backoff=0.05
    )
    database = make_url(service_db.url).database
    assert database
    try:
        emitted = await emit_orders(service_db, order_event, ["a"], 3)
        await relay.drain()
        await relay.stop()
        await _set_connections(pg_server_url, database, allowed=False)
        await consumer.start()
        await asyncio.sleep(2.0)  # the consumer fails over and over while the database is away
        await _set_connections(pg_server_url, database, allowed=True)

        async def handled() -> bool:
            return len(await effects(service_db)) >= len(emitted)

        await eventually(handled, deadline=30)
        rows = await effects(service_db)
        assert [r.seq for r in rows] == [0, 1, 2]
        assert consumer.dead_lettered == 0
        dlq = broker.consumer(unique("dlq-reader"), [dlq_topic(order_event.topic)])
        await dlq.start()
        try:
            assert await dlq.getmany(0.5) == []
        finally:
            await dlq.close()
    finally:
        await _set_connections(pg_server_url, database, allowed=True)
        await consumer.stop()
        await relay.stop()
        await broker.stop()
