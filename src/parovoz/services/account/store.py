"""The account database: `accounts` (identity copied from Auth, status) and `profiles` (what the
owner edits), SQLAlchemy Core over the connection of the caller's unit of work.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from parovoz.services.account.domain import deletion
from parovoz.services.account.domain.profile import Account

metadata = sa.MetaData()

accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("id", sa.Uuid(as_uuid=False), primary_key=True),
    sa.Column("username", sa.Text, nullable=False),
    sa.Column("email", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("status_reason", sa.Text, nullable=True),
    sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("status_changed_by", sa.Uuid(as_uuid=False), nullable=True),
)

profiles = sa.Table(
    "profiles",
    metadata,
    sa.Column("user_id", sa.Uuid(as_uuid=False), sa.ForeignKey("accounts.id"), primary_key=True),
    sa.Column("display_name", sa.Text, nullable=False),
    sa.Column("avatar_url", sa.Text, nullable=True),
    sa.Column("bio", sa.Text, nullable=True),
    sa.Column("country", sa.Text, nullable=True),
    sa.Column("language", sa.Text, nullable=False),
    sa.Column("birth_date", sa.Date, nullable=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

# Every change of an account's status: who set which status when, and why.
status_history = sa.Table(
    "account_status_history",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("user_id", sa.Uuid(as_uuid=False), sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("changed_by", sa.Uuid(as_uuid=False), nullable=True),
    sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
)

# A change of status (staff) touches `accounts`, a profile edit touches `profiles`: the account
# as a whole changed at the later of the two.
account_updated_at: ColumnElement[datetime] = sa.func.greatest(accounts.c.updated_at, profiles.c.updated_at)

# Every queryable attribute of an account (snake_case name -> SQL expression); the REST listing
# exposes these under camelCase names.
ACCOUNT_COLUMNS: dict[str, ColumnElement[Any]] = {
    "id": accounts.c.id,
    "username": accounts.c.username,
    "email": accounts.c.email,
    "display_name": profiles.c.display_name,
    "avatar_url": profiles.c.avatar_url,
    "bio": profiles.c.bio,
    "country": profiles.c.country,
    "language": profiles.c.language,
    "birth_date": profiles.c.birth_date,
    "status": accounts.c.status,
    "created_at": accounts.c.created_at,
    "updated_at": account_updated_at,
    "status_reason": accounts.c.status_reason,
    "status_changed_at": accounts.c.status_changed_at,
}

_JOINED = accounts.join(profiles, profiles.c.user_id == accounts.c.id)
_SELECT = sa.select(*(expr.label(name) for name, expr in ACCOUNT_COLUMNS.items())).select_from(_JOINED)
# Built once: building `column == value` and its cache key per call cost more than the query itself.
_SELECT_BY_ID = _SELECT.where(accounts.c.id == sa.bindparam("user_id"))
_SELECT_BY_ID_FOR_UPDATE = _SELECT_BY_ID.with_for_update()


def _account(row: sa.Row[Any]) -> Account:
    return Account(**row._mapping)


async def insert_account(conn: AsyncConnection, account: Account) -> bool:
    """Create the account and its profile; False (and nothing written) when the user already has one.

    ON CONFLICT on the user id makes this safe against a copy of the registration that reaches
    us under another event id (the inbox only dedupes by event id).
    """
    created = await conn.execute(
        insert(accounts)
        .values(
            id=account.id,
            username=account.username,
            email=account.email,
            status=account.status,
            created_at=account.created_at,
            updated_at=account.updated_at,
        )
        .on_conflict_do_nothing(index_elements=[accounts.c.id])
    )
    if created.rowcount != 1:
        return False
    await conn.execute(
        insert(profiles).values(
            user_id=account.id,
            display_name=account.display_name,
            avatar_url=account.avatar_url,
            bio=account.bio,
            country=account.country,
            language=account.language,
            birth_date=account.birth_date,
            updated_at=account.updated_at,
        )
    )
    return True


async def get_account(conn: AsyncConnection, user_id: str, *, for_update: bool = False) -> Account | None:
    """The account of `user_id` (a canonical UUID string), or None.

    `for_update` locks the rows until the transaction ends, so that a conditional update
    (If-Match) compares against the state it then overwrites.
    """
    query = _SELECT_BY_ID_FOR_UPDATE if for_update else _SELECT_BY_ID
    row = (await conn.execute(query, {"user_id": user_id})).one_or_none()
    return _account(row) if row is not None else None


async def get_accounts(conn: AsyncConnection, user_ids: Sequence[str]) -> list[Account]:
    """The accounts among `user_ids` (canonical UUID strings), in one query."""
    if not user_ids:
        return []
    rows = await conn.execute(_SELECT.where(accounts.c.id.in_(list(user_ids))))
    return [_account(row) for row in rows]


async def update_profile(
    conn: AsyncConnection, user_id: str, changes: Mapping[str, Any], *, now: datetime
) -> None:
    """Write the validated profile `changes` (snake_case field -> value) and stamp `updated_at`."""
    await conn.execute(
        sa.update(profiles).where(profiles.c.user_id == user_id).values(**changes, updated_at=now)
    )


async def set_status(
    conn: AsyncConnection,
    user_id: str,
    status: str,
    *,
    now: datetime,
    reason: str | None = None,
    changed_by: str | None = None,
) -> None:
    """Write the account's `status` (staff) with why and by whom, stamp `accounts.updated_at`,
    and add the change to the status history."""
    await conn.execute(
        sa.update(accounts)
        .where(accounts.c.id == user_id)
        .values(
            status=status,
            updated_at=now,
            status_reason=reason,
            status_changed_at=now,
            status_changed_by=changed_by,
        )
    )
    await conn.execute(
        sa.insert(status_history).values(
            user_id=user_id, status=status, reason=reason, changed_by=changed_by, changed_at=now
        )
    )


async def list_accounts(
    conn: AsyncConnection,
    *,
    where: Sequence[ColumnElement[bool]],
    order_by: Sequence[ColumnElement[Any]],
    offset: int,
    limit: int,
) -> tuple[list[Account], int]:
    """One page of accounts matching `where` in `order_by` order, and how many match in all.

    `order_by` must end with a unique key (the id), or equal sort keys could put a row on two pages.
    """
    total = await conn.scalar(sa.select(sa.func.count()).select_from(_JOINED).where(*where))
    page = _SELECT.where(*where).order_by(*order_by).offset(offset).limit(limit)
    rows = await conn.execute(page)
    return [_account(row) for row in rows], int(total or 0)


async def anonymise_account(conn: AsyncConnection, user_id: str, *, now: datetime) -> None:
    """Erase the personal data of the account (152-FZ): placeholders for username and e-mail, the
    profile cleared, status `deleted` (recorded in the status history as set by the user)."""
    await conn.execute(
        sa.update(profiles)
        .where(profiles.c.user_id == user_id)
        .values(**deletion.anonymised_profile(), updated_at=now)
    )
    await conn.execute(
        sa.update(accounts).where(accounts.c.id == user_id).values(**deletion.anonymised_identity(user_id))
    )
    await set_status(
        conn, user_id, deletion.STATUS_DELETED, now=now, reason=deletion.DELETION_REASON, changed_by=user_id
    )
