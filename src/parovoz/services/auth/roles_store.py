"""Role changes, the database side: `RolesTx` over one unit of work, and the use case bound to a
database (what the gRPC servicer and the operator's CLI call)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import sqlalchemy as sa

from parovoz.chassis.db import Database, UnitOfWork
from parovoz.contracts.events import AUTH_USER_ROLES_CHANGED, UserRolesChangedV1
from parovoz.services.auth.domain.role_changes import RoleChange, set_user_roles
from parovoz.services.auth.store import AuthTransaction
from parovoz.services.auth.tables import users


class RolesTransaction:
    """`RolesTx` over one chassis unit of work."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self._auth = AuthTransaction(uow)

    async def lock_user_roles(self, user_id: str) -> tuple[str, ...] | None:
        row = (
            await self.uow.conn.execute(
                sa.select(users.c.roles)
                # a deleted account (152-FZ erasure) is nobody to grant roles to
                .where(users.c.id == user_id, users.c.status != "deleted")
                .with_for_update()
            )
        ).first()
        return tuple(row.roles) if row is not None else None

    async def set_user_roles(self, user_id: str, roles: tuple[str, ...], now: datetime) -> None:
        await self.uow.conn.execute(
            users.update().where(users.c.id == user_id).values(roles=list(roles), updated_at=now)
        )

    async def revoke_all_sessions(self, user_id: str, now: datetime, reason: str) -> int:
        return await self._auth.revoke_all_sessions(user_id, now, reason)

    async def record_roles_changed(
        self, user_id: str, roles: tuple[str, ...], previous: tuple[str, ...], now: datetime
    ) -> None:
        await self.uow.emit(
            AUTH_USER_ROLES_CHANGED.name,
            subject=user_id,
            data=UserRolesChangedV1(
                user_id=user_id, roles=list(roles), previous_roles=list(previous), changed_at=now
            ),
        )


async def change_roles(db: Database, user_id: str, roles: Iterable[str]) -> RoleChange:
    """`set_user_roles` in one transaction of `db` (Auth's database)."""

    @asynccontextmanager
    async def transaction() -> AsyncIterator[RolesTransaction]:
        async with db.transaction() as uow:
            yield RolesTransaction(uow)

    return await set_user_roles(transaction, user_id, roles, now=datetime.now(UTC))
