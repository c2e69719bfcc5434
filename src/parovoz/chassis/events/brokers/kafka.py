"""Kafka broker (distributed mode) on aiokafka.

Producer: acks=all, keyed partitioning (same subject → same partition → order), a short linger so
the relay's batches travel as few requests. Idempotence is a setting: on for Apache Kafka, off for
the tansu test broker, which rejects InitProducerId (FACTS.md). Consumers: groups, manual commits
after handling, `earliest` for a new group.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code

from parovoz.chassis.events.brokers import Record

DEFAULT_PARTITIONS = 3


class KafkaConsumer:
    """A consumer group member; `commit` stores offset+1 of the last handled record per partition."""

    def __init__(self, bootstrap: str, group: str, topics: Sequence[str], client_id: str) -> None:
        self._consumer = AIOKafkaConsumer(
            *topics,
            bootstrap_servers=bootstrap,
            group_id=group,
            client_id=client_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=1000,
            # short: a member that died (or, on tansu, never sent LeaveGroup) is replaced quickly
            session_timeout_ms=6000,
            heartbeat_interval_ms=1000,
            rebalance_timeout_ms=10000,
        )

    async def start(self) -> None:
        await self._consumer.start()

    async def getmany(self, timeout: float) -> list[Record]:  # noqa: ASYNC109 (the Broker interface)
        batches = await self._consumer.getmany(timeout_ms=int(timeout * 1000))
        return [
            Record(
                topic=m.topic,
                key=m.key,
                value=m.value if m.value is not None else b"",
                headers=list(m.headers or ()),
                partition=m.partition,
                offset=m.offset,
            )
            for messages in batches.values()
            for m in messages
        ]

    async def commit(self, records: Sequence[Record]) -> None:
        if not records:
            return
        offsets: dict[TopicPartition, int] = {}
        for r in records:
            tp = TopicPartition(r.topic, r.partition)
            offsets[tp] = max(offsets.get(tp, 0), r.offset + 1)
        await self._consumer.commit(offsets)

    async def close(self) -> None:
        await self._consumer.stop()


class KafkaBroker:
    def __init__(
        self,
        bootstrap: str,
        *,
        idempotence: bool,
        client_id: str = "parovoz",
        replication_factor: int = 1,
        linger_ms: int = 5,
    ) -> None:
        self.bootstrap = bootstrap
        self.idempotence = idempotence
        self.client_id = client_id
        self.replication_factor = replication_factor
        self.linger_ms = linger_ms
        self._producer: AIOKafkaProducer | None = None
        self._known_topics: set[str] = set()

    async def start(self) -> None:
        if self._producer is not None:
            return
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            client_id=self.client_id,
            acks="all",
            enable_idempotence=self.idempotence,
            linger_ms=self.linger_ms,
            max_batch_size=1024 * 1024,
            request_timeout_ms=30000,
        )
        await producer.start()
        self._producer = producer

    async def stop(self) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await producer.stop()

    async def ensure_topics(self, topics: Sequence[str], partitions: int = DEFAULT_PARTITIONS) -> None:
        wanted = [t for t in dict.fromkeys(topics) if t not in self._known_topics]
        if not wanted:
            return
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, client_id=self.client_id)
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            missing = [t for t in wanted if t not in existing]
            if missing:
                new = [NewTopic(t, partitions, self.replication_factor) for t in missing]
                response = await admin.create_topics(new)
                for topic_error in response.topic_errors:
                    topic, code = topic_error[0], topic_error[1]
                    # another process may create the same topic at the same moment: that is fine
                    if code not in (0, TopicAlreadyExistsError.errno):
                        raise for_code(code)(f"cannot create topic {topic}")
        finally:
            await admin.close()
        self._known_topics.update(wanted)

    async def publish(self, records: Sequence[Record]) -> None:
        if self._producer is None:
            raise RuntimeError("KafkaBroker.publish before start()")
        futures = [
            await self._producer.send(r.topic, value=r.value, key=r.key, headers=list(r.headers))
            for r in records
        ]
        # every future resolves once the broker acknowledged (acks=all); the first error raises
        await asyncio.gather(*futures)

    def consumer(self, group: str, topics: Sequence[str]) -> KafkaConsumer:
        return KafkaConsumer(self.bootstrap, group, topics, self.client_id)
