"""Privacy settings, account settings (notifications), 152-FZ consents and the status history:
SQLAlchemy Core over the caller's connection. The tables' schema is account_0002."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from parovoz.services.account.domain import preferences
from parovoz.services.account.domain.consents import Consent
from parovoz.services.account.domain.privacy import Privacy
from parovoz.services.account.store import metadata, status_history

UUID = sa.Uuid(as_uuid=False)
TS = sa.DateTime(timezone=True)

privacy_settings = sa.Table(
    "privacy_settings",
    metadata,
    sa.Column("user_id", UUID, primary_key=True),
    sa.Column("visibility", sa.Text, nullable=False),
    sa.Column("show_playtime", sa.Boolean, nullable=False),
    sa.Column("show_library", sa.Boolean, nullable=False),
    sa.Column("show_online_status", sa.Boolean, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
)

account_settings = sa.Table(
    "account_settings",
    metadata,
    sa.Column("user_id", UUID, primary_key=True),
    sa.Column("notifications", JSONB, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
)

consents = sa.Table(
    "consents",
    metadata,
    sa.Column("id", UUID, primary_key=True),
    sa.Column("user_id", UUID, nullable=False),
    sa.Column("purpose", sa.Text, nullable=False),
    sa.Column("version", sa.Text, nullable=False),
    sa.Column("given_at", TS, nullable=False),
    sa.Column("ip", sa.Text),
    sa.Column("user_agent", sa.Text),
    sa.Column("withdrawn_at", TS),
    sa.Column("withdrawn_ip", sa.Text),
    sa.Column("withdrawn_user_agent", sa.Text),
)

_PRIVACY_COLUMNS = ("visibility", "show_playtime", "show_library", "show_online_status", "updated_at")


# -- privacy ------------------------------------------------------------------------------------


async def get_privacy(conn: AsyncConnection, user_id: str) -> Privacy:
    """The user's privacy settings; the defaults when none were ever stored (accounts made before
    privacy settings existed)."""
    row = (
        await conn.execute(
            sa.select(*(privacy_settings.c[name] for name in _PRIVACY_COLUMNS)).where(
                privacy_settings.c.user_id == user_id
            )
        )
    ).first()
    return Privacy(**row._mapping) if row is not None else Privacy()


async def get_privacies(conn: AsyncConnection, user_ids: Sequence[str]) -> dict[str, Privacy]:
    """Privacy settings of several users (defaults for those with none), in one query."""
    if not user_ids:
        return {}
    rows = await conn.execute(
        sa.select(privacy_settings).where(privacy_settings.c.user_id.in_(list(user_ids)))
    )
    found = {row.user_id: Privacy(**{name: row._mapping[name] for name in _PRIVACY_COLUMNS}) for row in rows}
    return {user_id: found.get(user_id, Privacy()) for user_id in user_ids}


async def save_privacy(conn: AsyncConnection, user_id: str, privacy: Privacy) -> None:
    values = {name: getattr(privacy, name) for name in _PRIVACY_COLUMNS}
    await conn.execute(
        insert(privacy_settings)
        .values(user_id=user_id, **values)
        .on_conflict_do_update(index_elements=[privacy_settings.c.user_id], set_=values)
    )


# -- settings (notifications) -------------------------------------------------------------------


async def get_notifications(
    conn: AsyncConnection, user_id: str
) -> tuple[preferences.Notifications, datetime | None]:
    """The user's notification preferences (defaults filled in) and when they last changed."""
    row = (
        await conn.execute(
            sa.select(account_settings.c.notifications, account_settings.c.updated_at).where(
                account_settings.c.user_id == user_id
            )
        )
    ).first()
    if row is None:
        return preferences.normalised(None), None
    return preferences.normalised(row.notifications), row.updated_at


async def save_notifications(
    conn: AsyncConnection, user_id: str, notifications: preferences.Notifications, now: datetime
) -> None:
    values = {"notifications": notifications, "updated_at": now}
    await conn.execute(
        insert(account_settings)
        .values(user_id=user_id, **values)
        .on_conflict_do_update(index_elements=[account_settings.c.user_id], set_=values)
    )


# -- consents -----------------------------------------------------------------------------------


def _consent(row: Any) -> Consent:
    return Consent(
        id=row.id,
        purpose=row.purpose,
        version=row.version,
        given_at=row.given_at,
        ip=row.ip,
        user_agent=row.user_agent,
        withdrawn_at=row.withdrawn_at,
    )


async def add_consent(
    conn: AsyncConnection,
    user_id: str,
    *,
    purpose: str,
    version: str,
    given_at: datetime,
    ip: str | None,
    user_agent: str | None,
) -> None:
    """Record a consent given at sign-up; a copy of the same purpose and version changes nothing."""
    await conn.execute(
        insert(consents)
        .values(
            id=str(uuid.uuid4()),
            user_id=user_id,
            purpose=purpose,
            version=version,
            given_at=given_at,
            ip=ip,
            user_agent=user_agent,
        )
        .on_conflict_do_nothing(index_elements=[consents.c.user_id, consents.c.purpose, consents.c.version])
    )


async def give_consent(
    conn: AsyncConnection,
    user_id: str,
    *,
    purpose: str,
    version: str,
    now: datetime,
    ip: str | None,
    user_agent: str | None,
) -> Consent:
    """Give (or give again after a withdrawal) the consent of this purpose and version; an active
    one stays as it was. Returns the consent as stored."""
    given = (
        await conn.execute(
            insert(consents)
            .values(
                id=str(uuid.uuid4()),
                user_id=user_id,
                purpose=purpose,
                version=version,
                given_at=now,
                ip=ip,
                user_agent=user_agent,
            )
            .on_conflict_do_update(
                index_elements=[consents.c.user_id, consents.c.purpose, consents.c.version],
                set_={
                    "given_at": now,
                    "ip": ip,
                    "user_agent": user_agent,
                    "withdrawn_at": None,
                    "withdrawn_ip": None,
                    "withdrawn_user_agent": None,
                },
                # only a withdrawn consent is given anew; an active one keeps its record
                where=consents.c.withdrawn_at.is_not(None),
            )
            .returning(*consents.c)
        )
    ).first()
    if given is None:  # already active
        given = (
            await conn.execute(
                sa.select(consents).where(
                    consents.c.user_id == user_id,
                    consents.c.purpose == purpose,
                    consents.c.version == version,
                )
            )
        ).one()
    return _consent(given)


async def withdraw_consents(
    conn: AsyncConnection,
    user_id: str,
    *,
    now: datetime,
    purpose: str | None = None,
    ip: str | None = None,
    user_agent: str | None = None,
) -> int:
    """Withdraw the user's active consents (of one purpose, or all); how many were withdrawn."""
    conditions: list[ColumnElement[bool]] = [consents.c.user_id == user_id, consents.c.withdrawn_at.is_(None)]
    if purpose is not None:
        conditions.append(consents.c.purpose == purpose)
    result = await conn.execute(
        sa.update(consents)
        .where(*conditions)
        .values(withdrawn_at=now, withdrawn_ip=ip, withdrawn_user_agent=user_agent)
    )
    return result.rowcount


async def count_consents(conn: AsyncConnection, user_id: str) -> int:
    total = await conn.scalar(
        sa.select(sa.func.count()).select_from(consents).where(consents.c.user_id == user_id)
    )
    return int(total or 0)


async def list_consents(
    conn: AsyncConnection,
    user_id: str,
    *,
    order_by: Sequence[ColumnElement[Any]] = (),
    offset: int = 0,
    limit: int | None = None,
) -> list[Consent]:
    query = (
        sa.select(consents)
        .where(consents.c.user_id == user_id)
        .order_by(*(order_by or (consents.c.given_at, consents.c.purpose)))
        .offset(offset)
        .limit(limit)
    )
    return [_consent(row) for row in await conn.execute(query)]


# -- status history -----------------------------------------------------------------------------


async def status_changes(conn: AsyncConnection, user_id: str) -> list[dict[str, Any]]:
    """The account's status changes, oldest first (for the owner's data export: who decided is
    staff's internal information and is left out)."""
    rows = await conn.execute(
        sa.select(status_history.c.status, status_history.c.reason, status_history.c.changed_at)
        .where(status_history.c.user_id == user_id)
        .order_by(status_history.c.changed_at, status_history.c.id)
    )
    return [dict(row._mapping) for row in rows]
