"""Single-use tokens that reach the user by e-mail: address verification and password reset.

Each token is opaque (256 random bits) and stored only as its SHA-256; the plain value leaves the
service once, in the event Notification turns into a mail. A token is spent by its first use and
refused after its expiry, and a token of one purpose never serves the other.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

TOKEN_BYTES = 32  # 256 bits
VERIFY_EMAIL = "verify_email"
RESET_PASSWORD = "reset_password"
PURPOSES = (VERIFY_EMAIL, RESET_PASSWORD)
TTL: dict[str, timedelta] = {
    VERIFY_EMAIL: timedelta(hours=24),
    RESET_PASSWORD: timedelta(hours=1),
}
# token_urlsafe(32) is 43 characters; anything much longer is not ours
TOKEN_MAX = 128


def token_hash(token: str) -> bytes:
    """What the store keeps: a fast hash is enough for 256 random bits (nothing to brute-force)."""
    return hashlib.sha256(token.encode("utf-8")).digest()


@dataclass(frozen=True)
class OneTimeToken:
    id: str
    user_id: str
    purpose: str
    # the plain value: only in memory and in the event, never stored
    token: str
    token_hash: bytes
    created_at: datetime
    expires_at: datetime


def new_one_time_token(user_id: str, purpose: str, *, now: datetime) -> OneTimeToken:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown one-time token purpose {purpose!r}")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return OneTimeToken(
        id=str(uuid.uuid4()),
        user_id=user_id,
        purpose=purpose,
        token=token,
        token_hash=token_hash(token),
        created_at=now,
        expires_at=now + TTL[purpose],
    )
