"""Re-checking a signed-in user before an irreversible action (`VerifyUserCredentials`, asked by
Account before it deletes an account).

The password when the user has one, then the second factor when 2FA is on. A user who signed up
with VK / OK / Telegram has no password: the second factor when on, else a fresh sign-in (the
session of the request started within `RECENT_SIGN_IN`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

import sqlalchemy as sa

from parovoz.chassis.db import Database
from parovoz.chassis.errors import ApiError, register_messages, unauthorized
from parovoz.services.auth.domain.passwords import Passwords
from parovoz.services.auth.domain.users import ACTIVE, BLOCKED
from parovoz.services.auth.tables import sessions, users

RECENT_SIGN_IN = timedelta(minutes=15)
REAUTHENTICATION_REQUIRED = "REAUTHENTICATION_REQUIRED"

PASSWORD = "password"
MFA = "mfa"
RECENT = "recent_sign_in"

register_messages(
    {
        REAUTHENTICATION_REQUIRED: {
            "ru": (
                "Нужно войти заново",
                "Для этого действия войдите в аккаунт ещё раз и повторите его в течение 15 минут.",
            ),
            "en": (
                "Sign in again",
                "For this action, sign in again and repeat it within 15 minutes.",
            ),
        },
    }
)


class SecondFactor(Protocol):
    """The part of `MfaFlows` (domain/mfa.py) this check needs."""

    async def is_enabled(self, user_id: str) -> bool: ...

    async def verify_code_for(self, user_id: str, code: str | None) -> None: ...


def wrong_password() -> ApiError:
    # The same code as a password change's wrong current password; the field is `password` here.
    return unauthorized("INVALID_CURRENT_PASSWORD", pointer="/data/attributes/password")


async def verify_user_credentials(
    db: Database,
    passwords: Passwords,
    mfa: SecondFactor,
    *,
    user_id: str,
    password: str,
    code: str | None,
    session_id: str | None,
    now: datetime | None = None,
) -> str:
    """How the user proved presence ("password", "mfa" or "recent_sign_in"); raises ApiError 401
    when they did not, 404 USER_NOT_FOUND for an unknown or deleted user."""
    now = now or datetime.now(UTC)
    async with db.connect() as conn:
        row = (
            await conn.execute(sa.select(users.c.password_hash, users.c.status).where(users.c.id == user_id))
        ).first()
    if row is None or row.status not in (ACTIVE, BLOCKED):
        raise ApiError(404, "USER_NOT_FOUND")
    method = None
    if row.password_hash:
        if not password or not await passwords.verify(row.password_hash, password):
            raise wrong_password()
        method = PASSWORD
    if await mfa.is_enabled(user_id):
        await mfa.verify_code_for(user_id, code or None)
        return method or MFA
    if method is not None:
        return method
    if session_id and await _signed_in_since(db, user_id, session_id, now - RECENT_SIGN_IN):
        return RECENT
    raise unauthorized(REAUTHENTICATION_REQUIRED)


async def _signed_in_since(db: Database, user_id: str, session_id: str, since: datetime) -> bool:
    """Whether `session_id` is a live session of the user that started after `since`."""
    query = sa.select(sa.literal(1)).where(
        sessions.c.id == session_id,
        sessions.c.user_id == user_id,
        sessions.c.revoked_at.is_(None),
        sessions.c.created_at > since,
    )
    async with db.connect() as conn:
        return (await conn.execute(query)).first() is not None
