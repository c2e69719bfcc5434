"""What Auth holds about a user, for the user's 152-FZ data export (`ExportUserData` over gRPC).

Sections are plain JSON values; never a password hash, a secret, a token or a token's hash. Other
parts of Auth add their sections here (2FA state, linked identities) as they arrive.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parovoz.services.auth.external_store import identities_section
from parovoz.services.auth.mfa_store import two_factor_section
from parovoz.services.auth.tables import sessions, users


def _time(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


async def _user_section(conn: AsyncConnection, user_id: str) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            sa.select(
                users.c.id,
                users.c.email,
                users.c.username,
                users.c.roles,
                users.c.status,
                users.c.email_verified,
                users.c.language,
                users.c.created_at,
                users.c.updated_at,
                (users.c.password_hash.is_not(None) & (users.c.password_hash != "")).label("has_password"),
            ).where(users.c.id == user_id)
        )
    ).first()
    if row is None:
        return None
    return {
        "id": str(row.id),
        "email": row.email,
        "username": row.username,
        "roles": sorted(row.roles),
        "status": row.status,
        "emailVerified": row.email_verified,
        "language": row.language,
        # whether a password is set, never the password's hash
        "hasPassword": bool(row.has_password),
        "createdAt": _time(row.created_at),
        "updatedAt": _time(row.updated_at),
    }


async def _sessions_section(conn: AsyncConnection, user_id: str) -> list[dict[str, Any]]:
    rows = await conn.execute(
        sa.select(
            sessions.c.id,
            sessions.c.client_ip,
            sessions.c.user_agent,
            sessions.c.created_at,
            sessions.c.last_used_at,
            sessions.c.revoked_at,
            sessions.c.revoked_reason,
        )
        .where(sessions.c.user_id == user_id)
        .order_by(sessions.c.created_at, sessions.c.id)
    )
    return [
        {
            "id": str(row.id),
            "ip": row.client_ip,
            "userAgent": row.user_agent,
            "createdAt": _time(row.created_at),
            "lastUsedAt": _time(row.last_used_at),
            "endedAt": _time(row.revoked_at),
            "endReason": row.revoked_reason,
        }
        for row in rows
    ]


async def export_user(conn: AsyncConnection, user_id: str) -> dict[str, Any] | None:
    """Auth's data about `user_id` (a canonical UUID string) as a JSON-ready dict; None when Auth
    has no such user. Consents are Account's and are exported there."""
    user = await _user_section(conn, user_id)
    if user is None:
        return None
    return {
        "user": user,
        "sessions": await _sessions_section(conn, user_id),
        "twoFactor": await two_factor_section(conn, user_id),
        "identities": await identities_section(conn, user_id),
    }
