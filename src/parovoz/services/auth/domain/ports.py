"""What the sign-in use cases need from the outside: the store (outside and inside a transaction)
and the token pair they hand back. Plain protocols; services/auth/store.py implements them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from parovoz.chassis.rest.query import ListQuery
from parovoz.chassis.security.tokens import IssuedToken
from parovoz.services.auth.domain.one_time import OneTimeToken
from parovoz.services.auth.domain.places import NewCountryTx
from parovoz.services.auth.domain.sessions import RefreshGrant, RefreshRecord, Session, SessionInfo
from parovoz.services.auth.domain.users import Consent, User


class AuthTx(NewCountryTx, Protocol):
    """The store inside one transaction (everything commits together or not at all)."""

    async def insert_user(self, user: User) -> None:
        """Raises the EMAIL_TAKEN / USERNAME_TAKEN ApiError on a unique-index violation."""

    async def record_registered(self, user: User, consents: tuple[Consent, ...] = ()) -> None:
        """Write the auth.user.registered.v1 event (with the consents given) in this transaction."""

    async def user_by_id(self, user_id: str) -> User | None: ...

    async def replace_password_hash(self, user_id: str, old_hash: str, new_hash: str) -> bool:
        """Set the new hash if the stored one is still `old_hash`; whether it was replaced."""

    async def insert_one_time_token(self, user: User, token: OneTimeToken) -> None:
        """Store the token's hash and write its mail-me event in this transaction."""

    async def consume_one_time_token(self, token_hash: bytes, purpose: str, now: datetime) -> str | None:
        """Spend the token if it is unused, unexpired and of this purpose (its user id), voiding
        the user's other tokens of the purpose; None when it is not (nothing changes then)."""

    async def mark_email_verified(self, user_id: str, now: datetime) -> None: ...

    async def set_password_hash(self, user_id: str, new_hash: str, now: datetime) -> None: ...

    async def revoke_all_sessions(self, user_id: str, now: datetime, reason: str) -> int:
        """Revoke every live session of the user and their refresh tokens; how many were revoked."""

    async def insert_session(self, session: Session) -> None: ...

    async def insert_refresh(self, grant: RefreshGrant) -> None: ...

    async def lock_refresh(self, token_hash: bytes) -> RefreshRecord | None:
        """The token's record, row-locked until commit so concurrent refreshes serialise."""

    async def mark_refresh_used(self, refresh_id: str, now: datetime) -> None: ...

    async def revoke_session(self, session_id: str, now: datetime, reason: str) -> None:
        """Revoke the session and every refresh token of it; no-op when already revoked."""

    async def revoke_user_session(self, session_id: str, user_id: str, now: datetime, reason: str) -> bool:
        """Revoke the session if it is a live one of this user; whether it was."""

    async def revoke_other_sessions(self, user_id: str, keep: str, now: datetime, reason: str) -> int:
        """Revoke every live session of the user but `keep`; how many were revoked."""


class AuthStore(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[AuthTx]: ...

    async def user_by_login(self, login: str) -> User | None:
        """By e-mail (when the login holds '@') or by username, case-insensitively."""

    async def user_by_id(self, user_id: str) -> User | None: ...

    async def one_time_token_user(self, token_hash: bytes, purpose: str, now: datetime) -> str | None:
        """The user id of a token that is unused, unexpired and of this purpose; else None."""

    async def session_is_live(self, session_id: str, user_id: str) -> bool:
        """The session exists, belongs to the user, is not revoked, and the user is not blocked."""

    async def list_sessions(
        self, user_id: str, active_since: datetime, query: ListQuery
    ) -> tuple[list[SessionInfo], int]:
        """One page of the user's unrevoked sessions last used after `active_since`, and their total."""


@dataclass(frozen=True)
class TokenPair:
    session_id: str
    access: IssuedToken
    refresh: RefreshGrant
    expires_in: int
    refresh_expires_in: int


AccessIssuer = Callable[[User, str], Awaitable[IssuedToken]]
