"""Data exports in the account database (schema: account_0003): requests, the job's claims and
the archives. Replicas share the work: a claim takes rows with `FOR UPDATE SKIP LOCKED`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parovoz.services.account.domain import exports
from parovoz.services.account.domain.exports import DataExport
from parovoz.services.account.store import metadata

TS = sa.DateTime(timezone=True)

data_exports = sa.Table(
    "data_exports",
    metadata,
    sa.Column("id", sa.Uuid(as_uuid=False), primary_key=True),
    sa.Column("user_id", sa.Uuid(as_uuid=False), nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("next_attempt_at", TS, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("lease_until", TS),
    sa.Column("started_at", TS),
    sa.Column("completed_at", TS),
    sa.Column("expires_at", TS),
    sa.Column("archive", sa.LargeBinary),
    sa.Column("last_error", sa.Text),
)

_FIELDS = (
    data_exports.c.id,
    data_exports.c.user_id,
    data_exports.c.status,
    data_exports.c.created_at,
    data_exports.c.completed_at,
    data_exports.c.expires_at,
    data_exports.c.attempts,
)


def _export(row: Any) -> DataExport:
    return DataExport(**row._mapping)


@dataclass(frozen=True)
class Claim:
    """An export a run took: its id, user and which attempt this is (fences late writes)."""

    id: str
    user_id: str
    attempt: int


async def created_since(conn: AsyncConnection, user_id: str, since: datetime) -> list[datetime]:
    rows = await conn.execute(
        sa.select(data_exports.c.created_at).where(
            data_exports.c.user_id == user_id, data_exports.c.created_at > since
        )
    )
    return list(rows.scalars())


async def in_flight(conn: AsyncConnection, user_id: str) -> bool:
    query = sa.select(sa.literal(1)).where(
        data_exports.c.user_id == user_id, data_exports.c.status.in_(exports.IN_FLIGHT)
    )
    return (await conn.execute(query)).first() is not None


async def insert_export(conn: AsyncConnection, user_id: str, now: datetime) -> DataExport:
    row = (
        await conn.execute(
            sa.insert(data_exports)
            .values(
                id=str(uuid.uuid4()),
                user_id=user_id,
                status=exports.PENDING,
                created_at=now,
                next_attempt_at=now,
                attempts=0,
            )
            .returning(*_FIELDS)
        )
    ).one()
    return _export(row)


async def get_export(conn: AsyncConnection, export_id: str, user_id: str) -> DataExport | None:
    """The export, when it is the user's (another user's id reads as unknown: no BOLA)."""
    row = (
        await conn.execute(
            sa.select(*_FIELDS).where(data_exports.c.id == export_id, data_exports.c.user_id == user_id)
        )
    ).first()
    return _export(row) if row is not None else None


async def get_archive(conn: AsyncConnection, export_id: str, user_id: str, now: datetime) -> bytes | None:
    """The archive of a completed, unexpired export of the user; None otherwise."""
    return await conn.scalar(
        sa.select(data_exports.c.archive).where(
            data_exports.c.id == export_id,
            data_exports.c.user_id == user_id,
            data_exports.c.status == exports.COMPLETED,
            data_exports.c.expires_at > now,
        )
    )


async def claim(conn: AsyncConnection, now: datetime, limit: int) -> list[Claim]:
    """Take up to `limit` exports due for a run: pending ones whose time has come and running ones
    whose lease ran out (their run crashed). Rows another replica is claiming are skipped. Call
    in a transaction of its own: the claim is committed before the work starts."""
    due = (
        sa.select(data_exports.c.id)
        .where(
            sa.or_(
                sa.and_(data_exports.c.status == exports.PENDING, data_exports.c.next_attempt_at <= now),
                sa.and_(data_exports.c.status == exports.RUNNING, data_exports.c.lease_until < now),
            )
        )
        .order_by(data_exports.c.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list((await conn.execute(due)).scalars())
    if not ids:
        return []
    rows = await conn.execute(
        sa.update(data_exports)
        .where(data_exports.c.id.in_(ids))
        .values(
            status=exports.RUNNING,
            attempts=data_exports.c.attempts + 1,
            lease_until=now + exports.LEASE,
            started_at=now,
        )
        .returning(data_exports.c.id, data_exports.c.user_id, data_exports.c.attempts)
    )
    return [Claim(row.id, row.user_id, row.attempts) for row in rows]


def _owned(claim_: Claim) -> list[sa.ColumnElement[bool]]:
    # Only the run that holds the claim writes the outcome: a run that outlived its lease (and
    # whose export was claimed again) changes nothing.
    return [
        data_exports.c.id == claim_.id,
        data_exports.c.status == exports.RUNNING,
        data_exports.c.attempts == claim_.attempt,
    ]


async def complete(conn: AsyncConnection, claim_: Claim, archive: bytes, now: datetime) -> bool:
    result = await conn.execute(
        sa.update(data_exports)
        .where(*_owned(claim_))
        .values(
            status=exports.COMPLETED,
            archive=archive,
            completed_at=now,
            expires_at=now + exports.KEEP_FOR,
            lease_until=None,
            last_error=None,
        )
    )
    return result.rowcount == 1


async def fail(conn: AsyncConnection, claim_: Claim, error: str, now: datetime) -> str | None:
    """Record a failed run: pending again (after a back-off) or failed after the last attempt.
    Returns the new status, None when the claim was no longer this run's."""
    status = exports.status_after_failure(claim_.attempt)
    result = await conn.execute(
        sa.update(data_exports)
        .where(*_owned(claim_))
        .values(
            status=status,
            next_attempt_at=now + exports.retry_delay(claim_.attempt),
            lease_until=None,
            last_error=error[:500],
            completed_at=now if status == exports.FAILED else None,
        )
    )
    return status if result.rowcount == 1 else None


async def purge_expired(conn: AsyncConnection, now: datetime) -> int:
    """Delete the exports past their 7 days (completed) and failed ones as old; how many."""
    result = await conn.execute(
        sa.delete(data_exports).where(
            sa.or_(
                sa.and_(data_exports.c.status == exports.COMPLETED, data_exports.c.expires_at <= now),
                sa.and_(
                    data_exports.c.status == exports.FAILED,
                    data_exports.c.created_at <= now - exports.KEEP_FOR,
                ),
            )
        )
    )
    return result.rowcount


async def delete_user_exports(conn: AsyncConnection, user_id: str) -> None:
    """A deleted account's exports go with it (the archives hold its personal data)."""
    await conn.execute(sa.delete(data_exports).where(data_exports.c.user_id == user_id))
