"""Event brokers behind one small protocol: Kafka (distributed mode) and the PostgreSQL log (embedded).

Records are opaque bytes with a key (the event subject: same key → same partition → order kept)
and headers. `publish` returns only once the broker has acknowledged every record durably.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

DLQ_SUFFIX = ".dlq"


@dataclass(frozen=True)
class Record:
    """One log record; `partition` and `offset` are set on records read from a broker."""

    topic: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    partition: int = 0
    offset: int = -1

    def header(self, name: str) -> bytes | None:
        for header_name, value in self.headers:
            if header_name == name:
                return value
        return None


def dlq_topic(topic: str) -> str:
    """The dead-letter topic of `topic`."""
    return topic + DLQ_SUFFIX


@runtime_checkable
class Consumer(Protocol):
    """A member of a consumer group; offsets are committed explicitly, after handling."""

    async def start(self) -> None: ...

    async def getmany(self, timeout: float) -> list[Record]:  # noqa: ASYNC109 (the Broker interface)
        """Records fetched within `timeout` seconds (possibly none); per partition in offset order."""
        ...

    async def commit(self, records: Sequence[Record]) -> None:
        """Commit past each (topic, partition)'s highest offset among `records`."""
        ...

    async def close(self) -> None: ...


@runtime_checkable
class Broker(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def ensure_topics(self, topics: Sequence[str], partitions: int = ...) -> None:
        """Create the topics that do not exist yet (existing ones are left as they are)."""
        ...

    async def publish(self, records: Sequence[Record]) -> None:
        """Publish and return once every record is acknowledged (acks=all); raises on failure."""
        ...

    def consumer(self, group: str, topics: Sequence[str]) -> Consumer: ...
