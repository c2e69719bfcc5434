"""Auth's queries over its tables (`tables.py`); implements the domain's `AuthStore`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from parovoz.chassis.db import Database, UnitOfWork
from parovoz.chassis.rest.query import ListQuery
from parovoz.services.auth import events, revocations
from parovoz.services.auth.domain import errors
from parovoz.services.auth.domain.one_time import OneTimeToken
from parovoz.services.auth.domain.rules import is_email_login
from parovoz.services.auth.domain.sessions import RefreshGrant, RefreshRecord, Session, SessionInfo
from parovoz.services.auth.domain.users import ACTIVE, Consent, User
from parovoz.services.auth.sign_in_places import SignInPlacesTx
from parovoz.services.auth.tables import (
    SESSIONS_COLLECTION,
    metadata,
    one_time_tokens,
    refresh_tokens,
    sessions,
    signing_keys,
    users,
)

# re-exported: the API and the key ring import them from here
__all__ = ["SESSIONS_COLLECTION", "AuthDbStore", "AuthTransaction", "metadata", "signing_keys"]

# User agents are client-controlled: keep what identifies a browser, not an attacker's megabyte.
USER_AGENT_MAX = 512


def _user(row: Any) -> User:
    return User(
        id=row.id,
        email=row.email,
        username=row.username,
        password_hash=row.password_hash,
        roles=tuple(row.roles),
        status=row.status,
        email_verified=row.email_verified,
        language=row.language,
        created_at=row.created_at,
    )


async def _user_by_id(conn: AsyncConnection, user_id: str) -> User | None:
    row = (await conn.execute(sa.select(users).where(users.c.id == user_id))).first()
    return _user(row) if row else None


def _duplicate_of(exc: IntegrityError) -> str | None:
    """Which unique index a failed insert hit ('email' / 'username'), from the driver's error."""
    cause = getattr(exc.orig, "__cause__", None)
    name = getattr(cause, "constraint_name", None) or str(exc.orig)
    if "users_email_key" in name:
        return "email"
    if "users_username_lower_key" in name:
        return "username"
    return None


class AuthTransaction(SignInPlacesTx):
    """`AuthTx` over one chassis unit of work."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.conn = uow.conn

    async def insert_user(self, user: User) -> None:
        values = {
            "id": user.id,
            "email": user.email,
            "username": user.username,
            "password_hash": user.password_hash,
            "roles": list(user.roles),
            "status": user.status,
            "email_verified": user.email_verified,
            "language": user.language,
            "created_at": user.created_at,
            "updated_at": user.created_at,
        }
        # A savepoint keeps the transaction usable for the caller after a duplicate.
        try:
            async with self.conn.begin_nested():
                await self.conn.execute(users.insert().values(**values))
        except IntegrityError as exc:
            which = _duplicate_of(exc)
            if which == "email":
                raise errors.email_taken() from None
            if which == "username":
                raise errors.username_taken() from None
            raise

    async def record_registered(self, user: User, consents: tuple[Consent, ...] = ()) -> None:
        await events.emit_user_registered(self.uow, user, consents)

    async def user_by_id(self, user_id: str) -> User | None:
        return await _user_by_id(self.conn, user_id)

    async def insert_one_time_token(self, user: User, token: OneTimeToken) -> None:
        await self.conn.execute(
            one_time_tokens.insert().values(
                id=token.id,
                user_id=token.user_id,
                purpose=token.purpose,
                token_hash=token.token_hash,
                created_at=token.created_at,
                expires_at=token.expires_at,
            )
        )
        await events.emit_one_time_token(self.uow, user, token)

    async def consume_one_time_token(self, token_hash: bytes, purpose: str, now: datetime) -> str | None:
        # One conditional UPDATE: of two simultaneous uses exactly one sees `used_at` still null.
        spent = (
            await self.conn.execute(
                one_time_tokens.update()
                .where(
                    one_time_tokens.c.token_hash == token_hash,
                    one_time_tokens.c.purpose == purpose,
                    one_time_tokens.c.used_at.is_(None),
                    one_time_tokens.c.expires_at > now,
                )
                .values(used_at=now)
                .returning(one_time_tokens.c.user_id)
            )
        ).first()
        if spent is None:
            return None
        # The other outstanding tokens of this purpose die with it (an older mail is void).
        await self.conn.execute(
            one_time_tokens.update()
            .where(
                one_time_tokens.c.user_id == spent.user_id,
                one_time_tokens.c.purpose == purpose,
                one_time_tokens.c.used_at.is_(None),
            )
            .values(used_at=now)
        )
        return spent.user_id

    async def mark_email_verified(self, user_id: str, now: datetime) -> None:
        await self.conn.execute(
            users.update()
            .where(users.c.id == user_id, users.c.email_verified.is_(False))
            .values(email_verified=True, updated_at=now)
        )

    async def set_password_hash(self, user_id: str, new_hash: str, now: datetime) -> None:
        await self.conn.execute(
            users.update().where(users.c.id == user_id).values(password_hash=new_hash, updated_at=now)
        )

    async def replace_password_hash(self, user_id: str, old_hash: str, new_hash: str) -> bool:
        # Conditional on the old hash: a password changed meanwhile is not overwritten.
        result = await self.conn.execute(
            users.update()
            .where(users.c.id == user_id, users.c.password_hash == old_hash)
            .values(password_hash=new_hash, updated_at=sa.func.now())
        )
        return result.rowcount == 1

    async def insert_session(self, session: Session) -> None:
        await self.conn.execute(
            sessions.insert().values(
                id=session.id,
                user_id=session.user_id,
                user_agent=(session.user_agent or None) and session.user_agent[:USER_AGENT_MAX],
                client_ip=session.client_ip,
                created_at=session.created_at,
                last_used_at=session.created_at,
                country=session.country,
                city=session.city,
                device=session.device,
            )
        )

    async def insert_refresh(self, grant: RefreshGrant) -> None:
        await self.conn.execute(
            refresh_tokens.insert().values(
                id=grant.id,
                session_id=grant.session_id,
                token_hash=grant.token_hash,
                created_at=grant.created_at,
                expires_at=grant.expires_at,
            )
        )
        await self.conn.execute(
            sessions.update().where(sessions.c.id == grant.session_id).values(last_used_at=grant.created_at)
        )

    async def lock_refresh(self, token_hash: bytes) -> RefreshRecord | None:
        # FOR UPDATE of the token row: a second refresh with the same token waits for the first
        # to commit, then sees `used_at` set and is judged a reuse (one winner, never two).
        query = (
            sa.select(
                refresh_tokens.c.id,
                refresh_tokens.c.session_id,
                refresh_tokens.c.expires_at,
                refresh_tokens.c.used_at,
                refresh_tokens.c.revoked_at,
                sessions.c.user_id,
                sessions.c.revoked_at.label("session_revoked_at"),
            )
            .join(sessions, sessions.c.id == refresh_tokens.c.session_id)
            .where(refresh_tokens.c.token_hash == token_hash)
            .with_for_update(of=refresh_tokens)
        )
        row = (await self.conn.execute(query)).first()
        if row is None:
            return None
        return RefreshRecord(
            id=row.id,
            session_id=row.session_id,
            user_id=row.user_id,
            expires_at=row.expires_at,
            used_at=row.used_at,
            session_revoked_at=row.session_revoked_at or row.revoked_at,
        )

    async def mark_refresh_used(self, refresh_id: str, now: datetime) -> None:
        await self.conn.execute(
            refresh_tokens.update().where(refresh_tokens.c.id == refresh_id).values(used_at=now)
        )

    async def revoke_session(self, session_id: str, now: datetime, reason: str) -> None:
        ended = (
            await self.conn.execute(
                sessions.update()
                .where(sessions.c.id == session_id, sessions.c.revoked_at.is_(None))
                .values(revoked_at=now, revoked_reason=reason)
                .returning(sessions.c.user_id)
            )
        ).first()
        if ended is not None:
            await self._sessions_ended(ended.user_id, [session_id], now, reason)
        else:  # already ended: its refresh tokens went with it, this only makes sure
            await self._revoke_refresh_of([session_id], now)

    async def revoke_user_session(self, session_id: str, user_id: str, now: datetime, reason: str) -> bool:
        result = await self.conn.execute(
            sessions.update()
            .where(
                sessions.c.id == session_id,
                sessions.c.user_id == user_id,
                sessions.c.revoked_at.is_(None),
            )
            .values(revoked_at=now, revoked_reason=reason)
        )
        if result.rowcount != 1:
            return False
        await self._sessions_ended(user_id, [session_id], now, reason)
        return True

    async def revoke_other_sessions(self, user_id: str, keep: str, now: datetime, reason: str) -> int:
        ended = (
            (
                await self.conn.execute(
                    sessions.update()
                    .where(
                        sessions.c.user_id == user_id,
                        sessions.c.id != keep,
                        sessions.c.revoked_at.is_(None),
                    )
                    .values(revoked_at=now, revoked_reason=reason)
                    .returning(sessions.c.id)
                )
            )
            .scalars()
            .all()
        )
        if ended:
            await self._sessions_ended(user_id, list(ended), now, reason)
        return len(ended)

    async def set_user_status(self, user_id: str, status: str, now: datetime) -> bool:
        """Write the user's status; whether the user exists."""
        result = await self.conn.execute(
            users.update().where(users.c.id == user_id).values(status=status, updated_at=now)
        )
        return result.rowcount == 1

    async def revoke_all_sessions(self, user_id: str, now: datetime, reason: str) -> int:
        """Revoke every live session of the user and their refresh tokens; how many were revoked."""
        ended = (
            (
                await self.conn.execute(
                    sessions.update()
                    .where(sessions.c.user_id == user_id, sessions.c.revoked_at.is_(None))
                    .values(revoked_at=now, revoked_reason=reason)
                    .returning(sessions.c.id)
                )
            )
            .scalars()
            .all()
        )
        if ended:
            await self._sessions_ended(user_id, list(ended), now, reason)
        return len(ended)

    async def _sessions_ended(self, user_id: str, session_ids: list[str], now: datetime, reason: str) -> None:
        """Every revocation above ends here: the sessions' refresh tokens die, and the event that
        has their access tokens refused everywhere (revocations.py) commits with it."""
        await self._revoke_refresh_of(session_ids, now)
        await revocations.emit_sessions_revoked(
            self.uow, str(user_id), [str(s) for s in session_ids], now, reason
        )

    async def _revoke_refresh_of(self, session_ids: list[str], now: datetime) -> None:
        await self.conn.execute(
            refresh_tokens.update()
            .where(refresh_tokens.c.session_id.in_(session_ids), refresh_tokens.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )


class AuthDbStore:
    """`AuthStore` over the service database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AuthTransaction]:
        async with self.db.transaction() as uow:
            yield AuthTransaction(uow)

    async def user_by_login(self, login: str) -> User | None:
        column = users.c.email if is_email_login(login) else sa.func.lower(users.c.username)
        # A deleted user is nobody's login any more (its placeholders cannot match one anyway).
        query = sa.select(users).where(column == login, users.c.status != "deleted")
        async with self.db.connect() as conn:
            row = (await conn.execute(query)).first()
        return _user(row) if row else None

    async def user_by_id(self, user_id: str) -> User | None:
        async with self.db.connect() as conn:
            return await _user_by_id(conn, user_id)

    async def one_time_token_user(self, token_hash: bytes, purpose: str, now: datetime) -> str | None:
        query = sa.select(one_time_tokens.c.user_id).where(
            one_time_tokens.c.token_hash == token_hash,
            one_time_tokens.c.purpose == purpose,
            one_time_tokens.c.used_at.is_(None),
            one_time_tokens.c.expires_at > now,
        )
        async with self.db.connect() as conn:
            return (await conn.execute(query)).scalar_one_or_none()

    async def session_is_live(self, session_id: str, user_id: str) -> bool:
        query = (
            sa.select(sa.literal(1))
            .select_from(sessions.join(users, users.c.id == sessions.c.user_id))
            .where(
                sessions.c.id == session_id,
                sessions.c.user_id == user_id,
                sessions.c.revoked_at.is_(None),
                users.c.status == ACTIVE,
            )
        )
        async with self.db.connect() as conn:
            return (await conn.execute(query)).first() is not None

    async def list_sessions(
        self, user_id: str, active_since: datetime, query: ListQuery
    ) -> tuple[list[SessionInfo], int]:
        conditions = (
            sessions.c.user_id == user_id,
            sessions.c.revoked_at.is_(None),
            sessions.c.last_used_at > active_since,
        )
        live = sa.select(sessions).where(*conditions)
        counted = query.filtered(sa.select(sa.func.count()).select_from(sessions).where(*conditions))
        async with self.db.connect() as conn:
            total = (await conn.execute(counted)).scalar_one()
            rows = (await conn.execute(query.apply(live))).all()
        found = [
            SessionInfo(
                id=row.id,
                user_agent=row.user_agent,
                client_ip=row.client_ip,
                created_at=row.created_at,
                last_used_at=row.last_used_at,
                country=row.country,
                city=row.city,
                device=row.device,
            )
            for row in rows
        ]
        return found, total
