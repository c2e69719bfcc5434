"""The embedded durable event log, kept in PostgreSQL (its own database), with Kafka's semantics.

- Topics have a fixed small number of partitions; a record's partition is a stable hash of its
  key, so one key's records stay in order.
- `publish` is one transaction: each touched partition's row is locked (in a fixed order: no
  deadlocks) and its `next_offset` advanced, so offsets are contiguous and a partition's records
  become visible in offset order (a later publisher waits for the earlier one's commit).
- Consumer groups: a member owns a partition while it holds a session advisory lock on
  (group, topic, partition), released by PostgreSQL when the member's connection ends (crash
  included); committed offsets live in `pglog_offsets`, so a restarted member resumes after them.
- Members wait with LISTEN/NOTIFY (the publish transaction notifies at commit) plus a poll.

Schema: idempotent DDL run by `start()` (CREATE ... IF NOT EXISTS): the log owns its database and
has no history to migrate yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta

import asyncpg
import orjson

from parovoz.chassis.events.brokers import Record

DEFAULT_PARTITIONS = 4
CHANNEL = "pglog"
FETCH_LIMIT = 500  # records per partition per fetch

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pglog_partitions (
    topic text NOT NULL,
    partition int NOT NULL,
    next_offset bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (topic, partition)
);
CREATE TABLE IF NOT EXISTS pglog_records (
    topic text NOT NULL,
    partition int NOT NULL,
    "offset" bigint NOT NULL,
    key bytea,
    value bytea NOT NULL,
    headers bytea,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, partition, "offset")
);
CREATE INDEX IF NOT EXISTS pglog_records_created ON pglog_records (created_at);
CREATE TABLE IF NOT EXISTS pglog_offsets (
    group_name text NOT NULL,
    topic text NOT NULL,
    partition int NOT NULL,
    committed bigint NOT NULL,
    PRIMARY KEY (group_name, topic, partition)
);
"""


def plain_url(url: str) -> str:
    """asyncpg wants `postgresql://`; accept the SQLAlchemy spelling too."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def partition_for(key: bytes | None, partitions: int, fallback: int = 0) -> int:
    """Stable across processes (crc32, not Python's salted hash)."""
    if key is None:
        return fallback % partitions
    return zlib.crc32(key) % partitions


def _encode_headers(headers: Sequence[tuple[str, bytes]]) -> bytes | None:
    return orjson.dumps([[name, value.hex()] for name, value in headers]) if headers else None


def _decode_headers(raw: bytes | None) -> list[tuple[str, bytes]]:
    return [(name, bytes.fromhex(value)) for name, value in orjson.loads(raw)] if raw else []


class PgLogConsumer:
    """One group member: one connection holds its partition locks, listens, fetches, commits."""

    def __init__(self, broker: PgLogBroker, group: str, topics: Sequence[str]) -> None:
        self._broker = broker
        self.group = group
        self.topics = list(dict.fromkeys(topics))
        self._conn: asyncpg.Connection | None = None
        self._positions: dict[tuple[str, int], int] = {}  # owned partition -> next offset to read
        self._wake = asyncio.Event()
        self._last_claim = float("-inf")

    async def start(self) -> None:
        await self._broker.ensure_topics(self.topics)
        await self._connect()

    async def _connect(self) -> None:
        self._conn = await asyncpg.connect(self._broker.url)
        self._positions.clear()
        self._last_claim = float("-inf")
        await self._conn.add_listener(CHANNEL, self._on_notify)

    def _on_notify(self, _conn: object, _pid: int, _channel: str, topic: str) -> None:
        if topic in self.topics:
            self._wake.set()

    async def _claim_partitions(self) -> None:
        """Take every unowned partition of our topics (a member that died released its locks)."""
        assert self._conn is not None
        rows = await self._conn.fetch(
            "SELECT p.topic, p.partition, coalesce(o.committed, 0) AS committed "
            "FROM pglog_partitions p LEFT JOIN pglog_offsets o "
            "ON o.group_name = $1 AND o.topic = p.topic AND o.partition = p.partition "
            "WHERE p.topic = ANY($2::text[]) "
            "AND pg_try_advisory_lock(hashtext($1 || '/' || p.topic), p.partition) "
            "ORDER BY p.topic, p.partition",
            self.group,
            [t for t in self.topics],
        )
        for row in rows:
            tp = (row["topic"], row["partition"])
            if tp in self._positions:
                # a lock we already held was taken once more: give the extra hold back
                await self._conn.execute(
                    "SELECT pg_advisory_unlock(hashtext($1 || '/' || $2), $3)", self.group, *tp
                )
            else:
                self._positions[tp] = row["committed"]
        self._last_claim = asyncio.get_running_loop().time()

    async def _fetch(self) -> list[Record]:
        assert self._conn is not None
        if asyncio.get_running_loop().time() - self._last_claim > 1.0:
            await self._claim_partitions()
        if not self._positions:
            return []
        owned = list(self._positions.items())
        rows = await self._conn.fetch(
            'SELECT r.topic, r.partition, r."offset", r.key, r.value, r.headers '
            "FROM unnest($1::text[], $2::int[], $3::bigint[]) AS p(topic, partition, pos) "
            "CROSS JOIN LATERAL (SELECT * FROM pglog_records x WHERE x.topic = p.topic "
            'AND x.partition = p.partition AND x."offset" >= p.pos '
            'ORDER BY x."offset" LIMIT $4) r ORDER BY r.topic, r.partition, r."offset"',
            [tp[0] for tp, _ in owned],
            [tp[1] for tp, _ in owned],
            [pos for _, pos in owned],
            FETCH_LIMIT,
        )
        records = [
            Record(
                topic=row["topic"],
                key=row["key"],
                value=row["value"],
                headers=_decode_headers(row["headers"]),
                partition=row["partition"],
                offset=row["offset"],
            )
            for row in rows
        ]
        for r in records:
            self._positions[(r.topic, r.partition)] = r.offset + 1
        return records

    async def getmany(self, timeout: float) -> list[Record]:  # noqa: ASYNC109 (the Broker interface)
        if self._conn is None or self._conn.is_closed():
            await self._connect()
        # clear before fetching: a NOTIFY that arrives after the fetch is not missed
        self._wake.clear()
        records = await self._fetch()
        if records or timeout <= 0:
            return records
        with contextlib.suppress(TimeoutError):
            # the poll fallback: also wake after `timeout` (a lost notification, new partitions)
            await asyncio.wait_for(self._wake.wait(), timeout)
        return await self._fetch()

    async def commit(self, records: Sequence[Record]) -> None:
        if not records:
            return
        assert self._conn is not None
        next_offsets: dict[tuple[str, int], int] = {}
        for r in records:
            tp = (r.topic, r.partition)
            next_offsets[tp] = max(next_offsets.get(tp, 0), r.offset + 1)
        items = sorted(next_offsets.items())
        await self._conn.execute(
            "INSERT INTO pglog_offsets (group_name, topic, partition, committed) "
            "SELECT $1, * FROM unnest($2::text[], $3::int[], $4::bigint[]) "
            "ON CONFLICT (group_name, topic, partition) "
            "DO UPDATE SET committed = greatest(pglog_offsets.committed, excluded.committed)",
            self.group,
            [tp[0] for tp, _ in items],
            [tp[1] for tp, _ in items],
            [offset for _, offset in items],
        )

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            # closing the session releases every partition lock for another member
            with contextlib.suppress(Exception):
                await conn.close(timeout=5)


class PgLogBroker:
    def __init__(self, url: str, *, partitions: int = DEFAULT_PARTITIONS, pool_size: int = 5) -> None:
        self.url = plain_url(url)
        self.default_partitions = partitions
        self.pool_size = pool_size
        self._pool: asyncpg.Pool | None = None
        self._partitions: dict[str, int] = {}  # topic -> partition count (fixed once created)
        self._round_robin = 0

    async def start(self) -> None:
        if self._pool is not None:
            return
        self._pool = await asyncpg.create_pool(self.url, min_size=1, max_size=self.pool_size)
        async with self._pool.acquire() as conn:
            # serialise concurrent first starts: CREATE ... IF NOT EXISTS is not race-free
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(hashtext('pglog schema'))")
                await conn.execute(_SCHEMA)

    async def stop(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    def _pool_or_fail(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("PgLogBroker used before start()")
        return self._pool

    async def ensure_topics(self, topics: Sequence[str], partitions: int | None = None) -> None:
        count = partitions or self.default_partitions
        wanted = [t for t in dict.fromkeys(topics) if t not in self._partitions]
        if not wanted:
            return
        async with self._pool_or_fail().acquire() as conn:
            await conn.execute(
                "INSERT INTO pglog_partitions (topic, partition) "
                "SELECT t, p FROM unnest($1::text[]) AS t, generate_series(0, $2 - 1) AS p "
                "WHERE NOT EXISTS (SELECT 1 FROM pglog_partitions WHERE topic = t) "
                "ON CONFLICT DO NOTHING",
                wanted,
                count,
            )
            rows = await conn.fetch(
                "SELECT topic, count(*) AS n FROM pglog_partitions WHERE topic = ANY($1::text[]) "
                "GROUP BY topic",
                wanted,
            )
        self._partitions.update({row["topic"]: row["n"] for row in rows})

    async def publish(self, records: Sequence[Record]) -> None:
        if not records:
            return
        await self.ensure_topics([r.topic for r in records])
        by_partition: dict[tuple[str, int], list[Record]] = defaultdict(list)
        for r in records:
            self._round_robin += 1
            tp = (r.topic, partition_for(r.key, self._partitions[r.topic], self._round_robin))
            by_partition[tp].append(r)
        rows: list[tuple[object, ...]] = []
        async with self._pool_or_fail().acquire() as conn, conn.transaction():
            # sorted: concurrent publishers lock partitions in the same order (no deadlock)
            for (topic, partition), batch in sorted(by_partition.items()):
                end = await conn.fetchval(
                    "UPDATE pglog_partitions SET next_offset = next_offset + $3 "
                    "WHERE topic = $1 AND partition = $2 RETURNING next_offset",
                    topic,
                    partition,
                    len(batch),
                )
                first = end - len(batch)
                rows.extend(
                    (topic, partition, first + i, r.key, r.value, _encode_headers(r.headers))
                    for i, r in enumerate(batch)
                )
            await conn.copy_records_to_table(
                "pglog_records",
                records=rows,
                columns=["topic", "partition", "offset", "key", "value", "headers"],
            )
            for topic in {topic for topic, _ in by_partition}:
                await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, topic)

    def consumer(self, group: str, topics: Sequence[str]) -> PgLogConsumer:
        return PgLogConsumer(self, group, topics)

    async def trim(self, older_than: timedelta) -> int:
        """Delete records older than `older_than` (retention); offsets are never reused."""
        async with self._pool_or_fail().acquire() as conn:
            status = await conn.execute(
                "DELETE FROM pglog_records WHERE created_at < now() - $1::interval", older_than
            )
        return int(status.split()[-1])
