"""Database access: one PostgreSQL database per service, SQLAlchemy Core over asyncpg.

`Database.transaction()` is the unit of work: the state change and the events it causes
(`uow.emit(...)`, written to the outbox table) commit together or not at all. After a commit
that emitted events, commit listeners (the outbox relay) are woken.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

if TYPE_CHECKING:
    from parovoz.chassis.events.cloudevents import CloudEvent


def async_url(url: str) -> str:
    """Normalise a PostgreSQL URL to the asyncpg driver (`postgresql+asyncpg://`)."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://", "postgresql+psycopg://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise ValueError("only PostgreSQL URLs are supported")


class UnitOfWork:
    """One database transaction; `emit` queues events that are written to the outbox before commit."""

    def __init__(self, conn: AsyncConnection, service: str) -> None:
        self.conn = conn
        self.service = service
        self.events: list[CloudEvent] = []

    async def emit(
        self,
        name: str,
        *,
        subject: str,
        data: Any,
        source_path: str | None = None,
    ) -> CloudEvent:
        """Record event `name` (a registered event name such as `auth.user.registered.v1`).

        `data` is the event's data model instance or a dict valid against it. The event is
        written to the outbox in this transaction and published by the relay after commit.
        """
        from parovoz.chassis.events.cloudevents import new_event
        from parovoz.chassis.events.outbox import write_outbox

        event = new_event(name, subject=subject, data=data, service=self.service, source_path=source_path)
        await write_outbox(self.conn, [event])
        self.events.append(event)
        return event


class Database:
    """A service's database: engine, unit of work, plain connections, commit listeners."""

    def __init__(self, url: str, *, service: str, pool_size: int = 20) -> None:
        self.url = url
        self.service = service
        self.engine: AsyncEngine = create_async_engine(
            async_url(url),
            # A fixed pool, no overflow: overflow connections are opened and closed per burst, and
            # each new one costs PostgreSQL a backend process and us its prepared statements.
            pool_size=pool_size,
            max_overflow=0,
            pool_timeout=10,
            # No pre-ping: it costs a round trip per checkout; a dead connection fails its first
            # statement, is invalidated, and the unit of work (or the consumer's retry) runs again.
            pool_recycle=1800,
        )
        # Reads need no transaction: AUTOCOMMIT saves the BEGIN and ROLLBACK round trips.
        self._read_engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self._commit_listeners: list[Callable[[], None]] = []

    def add_commit_listener(self, listener: Callable[[], None]) -> None:
        """Call `listener()` after each committed transaction that emitted events."""
        self._commit_listeners.append(listener)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[UnitOfWork]:
        async with self.engine.begin() as conn:
            uow = UnitOfWork(conn, self.service)
            yield uow
        if uow.events:
            for listener in self._commit_listeners:
                listener()

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads, each statement on its own (autocommit: no BEGIN / ROLLBACK)."""
        async with self._read_engine.connect() as conn:
            yield conn

    async def ping(self) -> bool:
        from sqlalchemy import text

        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    async def dispose(self) -> None:
        await self.engine.dispose()
