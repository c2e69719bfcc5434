"""Sessions and refresh-token rotation.

A session starts at sign-in. Each refresh token is opaque (256 random bits), stored only as its
SHA-256, and belongs to one session. Refreshing marks the presented token used and issues the
next one in the same session. A used token presented again means two parties hold the chain
(a thief or a replay), so the whole session is revoked (the "family" of OAuth 2.0 BCP §4.14).
"""

from __future__ import annotations

import enum
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from parovoz.services.auth.domain.places import UNKNOWN_PLACE, Place, describe_device

REFRESH_TOKEN_BYTES = 32  # 256 bits


def new_refresh_token() -> str:
    return secrets.token_urlsafe(REFRESH_TOKEN_BYTES)


def refresh_token_hash(token: str) -> bytes:
    """What the store keeps: a fast hash is enough for 256 random bits (nothing to brute-force)."""
    return hashlib.sha256(token.encode("utf-8")).digest()


@dataclass(frozen=True)
class Session:
    id: str
    user_id: str
    user_agent: str | None
    client_ip: str | None
    created_at: datetime
    # where it signed in from: GeoIP country and city, a device name from the user agent
    country: str | None = None
    city: str | None = None
    device: str | None = None


@dataclass(frozen=True)
class SessionInfo:
    """A live session as its owner sees it in the list of their sessions."""

    id: str
    user_agent: str | None
    client_ip: str | None
    created_at: datetime
    last_used_at: datetime
    country: str | None = None
    city: str | None = None
    device: str | None = None


def new_session(
    user_id: str,
    *,
    user_agent: str | None,
    client_ip: str | None,
    now: datetime,
    place: Place = UNKNOWN_PLACE,
) -> Session:
    return Session(
        str(uuid.uuid4()),
        user_id,
        user_agent,
        client_ip,
        now,
        country=place.country,
        city=place.city,
        device=describe_device(user_agent),
    )


@dataclass(frozen=True)
class RefreshGrant:
    """A refresh token about to be stored: the plain token goes to the client, the hash to the store."""

    id: str
    session_id: str
    token: str
    token_hash: bytes
    created_at: datetime
    expires_at: datetime


def new_refresh_grant(session_id: str, *, now: datetime, ttl: timedelta) -> RefreshGrant:
    token = new_refresh_token()
    return RefreshGrant(str(uuid.uuid4()), session_id, token, refresh_token_hash(token), now, now + ttl)


@dataclass(frozen=True)
class RefreshRecord:
    """A stored refresh token with what decides its fate."""

    id: str
    session_id: str
    user_id: str
    expires_at: datetime
    used_at: datetime | None
    session_revoked_at: datetime | None


class RefreshVerdict(enum.Enum):
    ROTATE = "rotate"  # valid: mark used, issue the next one
    REUSED = "reused"  # already used: revoke the session
    INVALID = "invalid"  # unknown, expired or its session revoked


def judge_refresh(record: RefreshRecord | None, now: datetime) -> RefreshVerdict:
    """What presenting this refresh token means (the record is locked by the caller)."""
    if record is None or record.session_revoked_at is not None:
        return RefreshVerdict.INVALID
    if record.used_at is not None:
        return RefreshVerdict.REUSED
    if record.expires_at <= now:
        return RefreshVerdict.INVALID
    return RefreshVerdict.ROTATE
