"""Fixtures for the event integration tests: both brokers, throwaway events with unique topics."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence

import pytest

from parovoz.chassis.db import Database
from parovoz.chassis.db.migrate import migrate
from parovoz.chassis.events import registry
from parovoz.chassis.events.brokers import Broker, Consumer, Record
from parovoz.chassis.events.brokers.kafka import KafkaBroker
from parovoz.chassis.events.brokers.pglog import PgLogBroker
from parovoz.chassis.events.registry import EventDef
from parovoz.chassis.models import CamelModel


class OrderPlacedV1(CamelModel):
    order_id: str
    seq: int
    poison: bool = False


@pytest.fixture(params=["kafka", "pglog"])
async def broker(
    request: pytest.FixtureRequest, make_database: Callable[[str], Awaitable[str]]
) -> AsyncIterator[Broker]:
    made: Broker
    if request.param == "kafka":
        made = KafkaBroker(request.getfixturevalue("kafka_bootstrap"), idempotence=False, client_id="t")
    else:
        made = PgLogBroker(await make_database("pglog"))
    await made.start()
    yield made
    await made.stop()


@pytest.fixture
def order_event() -> Iterator[EventDef]:
    """A registered event whose topic no other test uses."""
    suffix = "o" + uuid.uuid4().hex[:8]
    defn = registry.register(
        EventDef(name=f"shop.{suffix}.placed.v1", owner="shop", data=OrderPlacedV1, description="An order.")
    )
    yield defn
    registry.unregister(defn.name)


@pytest.fixture
async def service_db(database_url: str) -> AsyncIterator[Database]:
    """A service database with the chassis tables and a table of handler effects."""
    db = Database(database_url, service="shop")
    await migrate(db, None)
    async with db.transaction() as uow:
        from sqlalchemy import text

        await uow.conn.execute(
            text("CREATE TABLE effects (id bigserial PRIMARY KEY, event_id text, subject text, seq int)")
        )
    yield db
    await db.dispose()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def collect(consumer: Consumer, count: int, *, deadline: float = 20.0) -> list[Record]:
    """Fetch until `count` records arrived (or the deadline passed); returns what arrived."""
    got: list[Record] = []
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    while len(got) < count and loop.time() < end:
        got.extend(await consumer.getmany(0.5))
    return got


async def eventually(check: Callable[[], Awaitable[bool]], *, deadline: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    while not await check():
        if loop.time() > end:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


def values(records: Sequence[Record]) -> list[bytes]:
    return [r.value for r in records]
