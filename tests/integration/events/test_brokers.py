"""Both brokers: publish → consume with a group, per-key order, committed offsets survive restarts."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import timedelta

from parovoz.chassis.events.brokers import Broker, Record
from parovoz.chassis.events.brokers.pglog import PgLogBroker

from .conftest import collect, unique, values


async def test_publish_consume_commit_restart(broker: Broker) -> None:
    topic, group = unique("orders"), unique("group")
    await broker.ensure_topics([topic])
    keys = [b"alpha", b"beta", b"gamma"]
    first = [
        Record(
            topic=topic, key=keys[i % 3], value=f"{keys[i % 3].decode()}:{i}".encode(), headers=[("h", b"v")]
        )
        for i in range(30)
    ]
    await broker.publish(first)

    consumer = broker.consumer(group, [topic])
    await consumer.start()
    got = await collect(consumer, 30)
    assert sorted(values(got)) == sorted(values(first))
    assert all(r.header("h") == b"v" for r in got)
    # per key: one partition, in publish order
    by_key: dict[bytes | None, list[Record]] = defaultdict(list)
    for r in got:
        by_key[r.key].append(r)
    for key, records in by_key.items():
        assert len({r.partition for r in records}) == 1
        numbers = [int(r.value.split(b":")[1]) for r in records]
        assert numbers == sorted(numbers), key
        offsets = [r.offset for r in records]
        assert offsets == sorted(offsets)
    await consumer.commit(got)
    await consumer.close()

    # a restarted member of the same group resumes after the committed offsets
    later = [Record(topic=topic, key=keys[i % 3], value=f"later:{i}".encode()) for i in range(5)]
    await broker.publish(later)
    restarted = broker.consumer(group, [topic])
    await restarted.start()
    try:
        again = await collect(restarted, 5)
        again.extend(await restarted.getmany(0.5))  # nothing else may come
        assert sorted(values(again)) == sorted(values(later))
    finally:
        await restarted.close()


async def test_uncommitted_records_are_delivered_again(broker: Broker) -> None:
    topic, group = unique("orders"), unique("group")
    await broker.ensure_topics([topic])
    await broker.publish([Record(topic=topic, key=b"k", value=f"v{i}".encode()) for i in range(4)])
    consumer = broker.consumer(group, [topic])
    await consumer.start()
    got = await collect(consumer, 4)
    await consumer.commit([r for r in got if r.value in (b"v0", b"v1")])
    await consumer.close()

    restarted = broker.consumer(group, [topic])
    await restarted.start()
    try:
        assert values(await collect(restarted, 2)) == [b"v2", b"v3"]
    finally:
        await restarted.close()


async def test_another_group_reads_from_the_start(broker: Broker) -> None:
    topic = unique("orders")
    await broker.ensure_topics([topic])
    await broker.publish(
        [Record(topic=topic, key=None, value=b"one"), Record(topic=topic, key=None, value=b"two")]
    )
    for group in (unique("g1"), unique("g2")):
        consumer = broker.consumer(group, [topic])
        await consumer.start()
        try:
            assert sorted(values(await collect(consumer, 2))) == [b"one", b"two"]
        finally:
            await consumer.close()


async def test_pglog_members_own_partitions_exclusively(make_database) -> None:  # type: ignore[no-untyped-def]
    broker = PgLogBroker(await make_database("pglog"), partitions=4)
    await broker.start()
    try:
        topic, group = unique("orders"), unique("group")
        await broker.ensure_topics([topic])
        first, second = broker.consumer(group, [topic]), broker.consumer(group, [topic])
        await first.start()
        assert await first.getmany(0) == []  # claims all four partitions
        await second.start()
        await broker.publish([Record(topic=topic, key=f"k{i}".encode(), value=b"x") for i in range(40)])
        assert await second.getmany(0.2) == []  # owns nothing while the first lives
        assert len(await collect(first, 40)) == 40
        await first.close()  # its partitions are released: the second takes them over
        await asyncio.sleep(1.1)  # a member re-claims free partitions about once a second
        taken_over = await collect(second, 40)
        assert len(taken_over) == 40  # nothing committed by the first: delivered again
        await second.close()
    finally:
        await broker.stop()


async def test_pglog_trim_deletes_old_records_only(make_database) -> None:  # type: ignore[no-untyped-def]
    broker = PgLogBroker(await make_database("pglog"))
    await broker.start()
    try:
        topic = unique("orders")
        await broker.publish([Record(topic=topic, key=b"k", value=b"old")])
        assert await broker.trim(timedelta(hours=1)) == 0
        await asyncio.sleep(0.05)
        assert await broker.trim(timedelta(milliseconds=1)) == 1
        await broker.publish([Record(topic=topic, key=b"k", value=b"new")])
        consumer = broker.consumer(unique("g"), [topic])
        await consumer.start()
        try:
            got = await collect(consumer, 1)
            assert values(got) == [b"new"]
            assert got[0].offset == 1  # offsets are never reused after a trim
        finally:
            await consumer.close()
    finally:
        await broker.stop()
