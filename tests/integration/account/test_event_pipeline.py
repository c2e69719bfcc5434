"""Registrations through a real broker (the embedded PostgreSQL log) and the chassis consumer runner."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Awaitable, Callable

from parovoz.chassis.events.brokers import Record, dlq_topic
from parovoz.chassis.events.brokers.pglog import PgLogBroker
from parovoz.chassis.events.consumer import EventConsumer
from parovoz.services.account import SPEC
from tests.integration.account.conftest import AccountHarness


async def test_registrations_from_the_broker_create_each_account_once(
    account: AccountHarness, make_database: Callable[[str], Awaitable[str]]
) -> None:
    broker = PgLogBroker(await make_database("pglog"))
    await broker.start()
    ctx = dataclasses.replace(account.ctx, broker=broker)
    consumer = EventConsumer(ctx, SPEC.subscriptions, max_attempts=2, base_backoff=0.01, poll_timeout=0.1)
    try:
        event = account.registration(username="tanya")
        copy = account.registration(user_id=event.subject, username="tanya_copy")
        poison = dataclasses.replace(
            account.registration(username="broken"),
            data={**event.data, "userId": "not-a-uuid"},
        )
        topic = event.topic
        records = [
            Record(topic=topic, key=e.subject.encode(), value=e.to_json())
            for e in (event, event, copy, poison)
        ]
        await broker.publish(records)
        await consumer.start()
        for _ in range(200):
            if consumer.handled + consumer.duplicates + consumer.dead_lettered >= 4:
                break
            await asyncio.sleep(0.05)
        assert (consumer.handled, consumer.duplicates, consumer.dead_lettered) == (2, 1, 1)

        rows = await account.sql("SELECT username FROM accounts")
        assert [r[0] for r in rows] == ["tanya"]
        profile = await account.client.get("/api/v1/users/me", headers=account.auth(event.subject))
        assert profile.json()["data"]["attributes"]["displayName"] == "tanya"

        parked = broker.consumer("dlq-reader-" + uuid.uuid4().hex[:6], [dlq_topic(topic)])
        await parked.start()
        try:
            dead = await parked.getmany(2.0)
        finally:
            await parked.close()
        assert [r.value for r in dead] == [poison.to_json()]
    finally:
        await consumer.stop(grace=5)
        await broker.stop()
