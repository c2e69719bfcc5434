"""An in-memory `AuthStore` for the domain flows: same contract as the database store."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from parovoz.chassis.rest.query import ListQuery
from parovoz.chassis.security.tokens import IssuedToken
from parovoz.services.auth.domain import errors
from parovoz.services.auth.domain.one_time import OneTimeToken
from parovoz.services.auth.domain.rules import is_email_login
from parovoz.services.auth.domain.sessions import RefreshGrant, RefreshRecord, Session, SessionInfo
from parovoz.services.auth.domain.users import ACTIVE, Consent, User


@dataclasses.dataclass
class StoredRefresh:
    grant: RefreshGrant
    used_at: datetime | None = None
    revoked_at: datetime | None = None


class FakeStore:
    """Changes are applied on commit only, like a transaction (a raised error discards them)."""

    def __init__(self) -> None:
        self.users: dict[str, User] = {}
        self.sessions: dict[str, Session] = {}
        self.revoked: dict[str, tuple[datetime, str]] = {}
        self.refresh: dict[bytes, StoredRefresh] = {}
        self.events: list[User] = []
        self.consents: dict[str, tuple[Consent, ...]] = {}
        # token hash → (token, used_at); `mailed` holds what the events carried
        self.tokens: dict[bytes, tuple[OneTimeToken, datetime | None]] = {}
        self.mailed: list[OneTimeToken] = []

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[FakeTx]:
        snapshot = (
            dict(self.users),
            dict(self.sessions),
            dict(self.revoked),
            {k: dataclasses.replace(v) for k, v in self.refresh.items()},
            list(self.events),
            dict(self.tokens),
            list(self.mailed),
        )
        try:
            yield FakeTx(self)
        except BaseException:
            (
                self.users,
                self.sessions,
                self.revoked,
                self.refresh,
                self.events,
                self.tokens,
                self.mailed,
            ) = snapshot
            raise

    async def user_by_login(self, login: str) -> User | None:
        for user in self.users.values():
            key = user.email if is_email_login(login) else user.username.lower()
            if key == login:
                return user
        return None

    async def user_by_id(self, user_id: str) -> User | None:
        return self.users.get(user_id)

    async def one_time_token_user(self, token_hash: bytes, purpose: str, now: datetime) -> str | None:
        token, used_at = self.tokens.get(token_hash, (None, None))
        if token is None or used_at is not None or token.purpose != purpose or token.expires_at <= now:
            return None
        return token.user_id

    async def session_is_live(self, session_id: str, user_id: str) -> bool:
        session = self.sessions.get(session_id)
        user = self.users.get(user_id)
        return (
            session is not None
            and session.user_id == user_id
            and session_id not in self.revoked
            and user is not None
            and user.status == ACTIVE
        )

    def last_used(self, session: Session) -> datetime:
        grants = [r.grant.created_at for r in self.refresh.values() if r.grant.session_id == session.id]
        return max([session.created_at, *grants])

    async def list_sessions(
        self, user_id: str, active_since: datetime, query: ListQuery
    ) -> tuple[list[SessionInfo], int]:
        """Most recently used first (the query's sort is SQL: ignored here), one page of it."""
        live = [
            SessionInfo(s.id, s.user_agent, s.client_ip, s.created_at, self.last_used(s))
            for s in self.sessions.values()
            if s.user_id == user_id and s.id not in self.revoked and self.last_used(s) > active_since
        ]
        live.sort(key=lambda s: s.last_used_at, reverse=True)
        return live[query.offset : query.offset + query.per_page], len(live)


class FakeTx:
    def __init__(self, store: FakeStore) -> None:
        self.s = store

    async def insert_user(self, user: User) -> None:
        for other in self.s.users.values():
            if other.email == user.email:
                raise errors.email_taken()
            if other.username.lower() == user.username.lower():
                raise errors.username_taken()
        self.s.users[user.id] = user

    async def record_registered(self, user: User, consents: tuple[Consent, ...] = ()) -> None:
        self.s.events.append(user)
        self.s.consents[user.id] = consents

    async def user_by_id(self, user_id: str) -> User | None:
        return self.s.users.get(user_id)

    async def insert_one_time_token(self, user: User, token: OneTimeToken) -> None:
        self.s.tokens[token.token_hash] = (token, None)
        self.s.mailed.append(token)

    async def consume_one_time_token(self, token_hash: bytes, purpose: str, now: datetime) -> str | None:
        user_id = await self.s.one_time_token_user(token_hash, purpose, now)
        if user_id is None:
            return None
        for key, (token, used_at) in list(self.s.tokens.items()):
            if token.user_id == user_id and token.purpose == purpose and used_at is None:
                self.s.tokens[key] = (token, now)
        return user_id

    async def mark_email_verified(self, user_id: str, now: datetime) -> None:
        self.s.users[user_id] = dataclasses.replace(self.s.users[user_id], email_verified=True)

    async def set_password_hash(self, user_id: str, new_hash: str, now: datetime) -> None:
        self.s.users[user_id] = dataclasses.replace(self.s.users[user_id], password_hash=new_hash)

    async def revoke_all_sessions(self, user_id: str, now: datetime, reason: str) -> int:
        return await self.revoke_other_sessions(user_id, "", now, reason)

    async def replace_password_hash(self, user_id: str, old_hash: str, new_hash: str) -> bool:
        user = self.s.users[user_id]
        if user.password_hash != old_hash:
            return False
        self.s.users[user_id] = dataclasses.replace(user, password_hash=new_hash)
        return True

    async def insert_session(self, session: Session) -> None:
        self.s.sessions[session.id] = session

    async def insert_refresh(self, grant: RefreshGrant) -> None:
        self.s.refresh[grant.token_hash] = StoredRefresh(grant)

    async def lock_refresh(self, token_hash: bytes) -> RefreshRecord | None:
        stored = self.s.refresh.get(token_hash)
        if stored is None:
            return None
        session = self.s.sessions[stored.grant.session_id]
        revoked = self.s.revoked.get(session.id)
        return RefreshRecord(
            id=stored.grant.id,
            session_id=session.id,
            user_id=session.user_id,
            expires_at=stored.grant.expires_at,
            used_at=stored.used_at,
            session_revoked_at=revoked[0] if revoked else stored.revoked_at,
        )

    async def mark_refresh_used(self, refresh_id: str, now: datetime) -> None:
        for stored in self.s.refresh.values():
            if stored.grant.id == refresh_id:
                stored.used_at = now

    async def revoke_session(self, session_id: str, now: datetime, reason: str) -> None:
        self.s.revoked.setdefault(session_id, (now, reason))
        for stored in self.s.refresh.values():
            if stored.grant.session_id == session_id and stored.revoked_at is None:
                stored.revoked_at = now

    async def revoke_user_session(self, session_id: str, user_id: str, now: datetime, reason: str) -> bool:
        session = self.s.sessions.get(session_id)
        if session is None or session.user_id != user_id or session_id in self.s.revoked:
            return False
        await self.revoke_session(session_id, now, reason)
        return True

    async def revoke_other_sessions(self, user_id: str, keep: str, now: datetime, reason: str) -> int:
        ended = [
            s.id
            for s in self.s.sessions.values()
            if s.user_id == user_id and s.id != keep and s.id not in self.s.revoked
        ]
        for session_id in ended:
            await self.revoke_session(session_id, now, reason)
        return len(ended)


class FakeIssuer:
    def __init__(self) -> None:
        self.issued: list[tuple[str, tuple[str, ...], str]] = []

    async def __call__(self, user: User, session_id: str) -> IssuedToken:
        self.issued.append((user.id, user.roles, session_id))
        n = len(self.issued)
        return IssuedToken(f"access-{n}", f"jti-{n}", datetime.now(UTC) + timedelta(minutes=15))


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)
