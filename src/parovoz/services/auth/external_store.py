"""Queries over the external-sign-in tables: identities, OAuth states, spent Telegram payloads."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from parovoz.chassis.db import Database
from parovoz.chassis.rest.query import CollectionSpec, ListQuery
from parovoz.services.auth.domain import external_errors
from parovoz.services.auth.domain.external import ExternalProfile, Identity, OAuthState
from parovoz.services.auth.domain.users import User
from parovoz.services.auth.store import USER_AGENT_MAX, AuthTransaction, _user
from parovoz.services.auth.tables import external_identities, oauth_states, telegram_payloads_used, users

# GET /api/v1/auth/identities (a user has at most one identity per provider: a short list)
IDENTITIES_COLLECTION = CollectionSpec(
    fields={
        "provider": external_identities.c.provider,
        "linkedAt": external_identities.c.linked_at,
        "lastUsedAt": external_identities.c.last_used_at,
    },
    sortable=("provider", "linkedAt", "lastUsedAt"),
    default_sort=("linkedAt",),
    selectable=dict.fromkeys(("provider", "displayName", "linkedAt", "lastUsedAt")),
    tiebreaker="provider",
)


def _identity(row: sa.Row) -> Identity:
    return Identity(
        provider=row.provider,
        external_id=row.external_id,
        display_name=row.display_name,
        linked_at=row.linked_at,
        last_used_at=row.last_used_at,
    )


class ExternalTransaction(AuthTransaction):
    """Auth's transaction plus the identity, state and payload writes (one commit for all)."""

    async def lock_user(self, user_id: str) -> User | None:
        # serialises link and unlink of one user: the last-method check cannot race
        row = (
            await self.conn.execute(sa.select(users).where(users.c.id == user_id).with_for_update())
        ).first()
        return _user(row) if row else None

    async def identity_owner(self, provider: str, external_id: str) -> str | None:
        query = sa.select(external_identities.c.user_id).where(
            external_identities.c.provider == provider, external_identities.c.external_id == external_id
        )
        return (await self.conn.execute(query)).scalar_one_or_none()

    async def insert_identity(self, user_id: str, profile: ExternalProfile, now: datetime) -> None:
        values = {
            "id": str(uuid.uuid4()),
            "user_id": user_id,
            "provider": profile.provider,
            "external_id": profile.external_id,
            "display_name": profile.display_name,
            "email": profile.email,
            "linked_at": now,
            "last_used_at": now,
        }
        try:
            async with self.conn.begin_nested():
                await self.conn.execute(external_identities.insert().values(**values))
        except IntegrityError as exc:
            if "external_identities_user_provider_key" in str(exc.orig):
                raise external_errors.provider_already_linked() from None
            if "external_identities_provider_external_key" in str(exc.orig):
                raise external_errors.identity_already_linked() from None
            raise

    async def touch_identity(self, provider: str, external_id: str, now: datetime) -> None:
        await self.conn.execute(
            external_identities.update()
            .where(
                external_identities.c.provider == provider, external_identities.c.external_id == external_id
            )
            .values(last_used_at=now)
        )

    async def count_identities(self, user_id: str) -> int:
        query = sa.select(sa.func.count()).where(external_identities.c.user_id == user_id)
        return (await self.conn.execute(query)).scalar_one()

    async def delete_identity(self, user_id: str, provider: str) -> bool:
        result = await self.conn.execute(
            external_identities.delete().where(
                external_identities.c.user_id == user_id, external_identities.c.provider == provider
            )
        )
        return result.rowcount == 1

    async def insert_state(
        self, state: OAuthState, *, state_hash: bytes, browser_hash: bytes, expires_at: datetime
    ) -> None:
        # expired records go as new ones come: the table holds about ten minutes of sign-ins
        await self.conn.execute(oauth_states.delete().where(oauth_states.c.expires_at < state.created_at))
        await self.conn.execute(
            oauth_states.insert().values(
                id=state.id,
                state_hash=state_hash,
                browser_hash=browser_hash,
                provider=state.provider,
                purpose=state.purpose,
                user_id=state.user_id,
                code_verifier=state.code_verifier,
                accept_terms=state.accept_terms,
                client_ip=state.client_ip,
                user_agent=(state.user_agent or None) and state.user_agent[:USER_AGENT_MAX],
                created_at=state.created_at,
                expires_at=expires_at,
            )
        )

    async def consume_state(
        self, *, state_hash: bytes, browser_hash: bytes, provider: str, now: datetime
    ) -> OAuthState | None:
        """Spend the state if it is this browser's, of this provider, unused and unexpired (one
        conditional UPDATE: of two callbacks with one state exactly one wins); else None."""
        row = (
            await self.conn.execute(
                oauth_states.update()
                .where(
                    oauth_states.c.state_hash == state_hash,
                    oauth_states.c.browser_hash == browser_hash,
                    oauth_states.c.provider == provider,
                    oauth_states.c.used_at.is_(None),
                    oauth_states.c.expires_at > now,
                )
                .values(used_at=now)
                .returning(oauth_states)
            )
        ).first()
        if row is None:
            return None
        return OAuthState(
            id=row.id,
            provider=row.provider,
            purpose=row.purpose,
            user_id=row.user_id,
            code_verifier=row.code_verifier,
            accept_terms=row.accept_terms,
            client_ip=row.client_ip,
            user_agent=row.user_agent,
            created_at=row.created_at,
        )

    async def spend_telegram_payload(self, payload_hash: bytes, expires_at: datetime, now: datetime) -> bool:
        """Record the payload as used; False when it already was (a replay)."""
        await self.conn.execute(
            telegram_payloads_used.delete().where(telegram_payloads_used.c.expires_at < now)
        )
        inserted = await self.conn.execute(
            pg_insert(telegram_payloads_used)
            .values(payload_hash=payload_hash, expires_at=expires_at)
            .on_conflict_do_nothing(index_elements=["payload_hash"])
        )
        return inserted.rowcount == 1


class ExternalStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[ExternalTransaction]:
        async with self.db.transaction() as uow:
            yield ExternalTransaction(uow)

    async def identity_owner(self, provider: str, external_id: str) -> str | None:
        query = sa.select(external_identities.c.user_id).where(
            external_identities.c.provider == provider, external_identities.c.external_id == external_id
        )
        async with self.db.connect() as conn:
            return (await conn.execute(query)).scalar_one_or_none()

    async def identities(self, user_id: str, query: ListQuery) -> tuple[list[Identity], int]:
        """One page of the user's linked identities, and their total."""
        mine = external_identities.c.user_id == user_id
        counted = query.filtered(sa.select(sa.func.count()).select_from(external_identities).where(mine))
        async with self.db.connect() as conn:
            total = (await conn.execute(counted)).scalar_one()
            rows = (await conn.execute(query.apply(sa.select(external_identities).where(mine)))).all()
        return [_identity(row) for row in rows], total


async def erase_external_identities(conn: AsyncConnection, user_id: str) -> None:
    """Account deletion: the user's linked identities and pending authorizations go (spent
    Telegram payloads are bare hashes tied to nobody and expire by themselves)."""
    await conn.execute(external_identities.delete().where(external_identities.c.user_id == user_id))
    await conn.execute(oauth_states.delete().where(oauth_states.c.user_id == user_id))


async def identities_section(conn: AsyncConnection, user_id: str) -> list[dict[str, Any]]:
    """The data export's "identities": which providers are linked and when (no provider tokens
    are ever kept; the provider's e-mail, when it gave one, is the user's data and is shown)."""
    rows = await conn.execute(
        sa.select(external_identities)
        .where(external_identities.c.user_id == user_id)
        .order_by(external_identities.c.linked_at, external_identities.c.provider)
    )
    return [
        {
            "provider": row.provider,
            "externalId": row.external_id,
            "displayName": row.display_name,
            "email": row.email,
            "linkedAt": row.linked_at.isoformat(),
            "lastUsedAt": row.last_used_at.isoformat() if row.last_used_at else None,
        }
        for row in rows
    ]
