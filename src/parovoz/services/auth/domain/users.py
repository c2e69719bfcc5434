"""A user as Auth knows it: credentials, roles and status (the profile lives in Account)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from parovoz.chassis.security.roles import USER

ACTIVE = "active"
BLOCKED = "blocked"
STATUSES = (ACTIVE, BLOCKED)
DEFAULT_ROLES: tuple[str, ...] = (USER,)


@dataclass(frozen=True)
class User:
    id: str
    email: str
    username: str
    # None for a user who signed up through VK ID, OK or Telegram and never set a password
    password_hash: str | None
    roles: tuple[str, ...]
    status: str
    email_verified: bool
    language: str
    created_at: datetime

    @property
    def is_blocked(self) -> bool:
        return self.status == BLOCKED


# What a user agrees to at sign-up (152-FZ: one versioned record per purpose).
TERMS = "terms"
PRIVACY = "privacy"


@dataclass(frozen=True)
class Consent:
    purpose: str
    version: str
    given_at: datetime
    ip: str | None
    user_agent: str | None


def new_user(
    *,
    email: str,
    username: str,
    password_hash: str | None,
    now: datetime,
    language: str = "ru",
    roles: tuple[str, ...] = DEFAULT_ROLES,
) -> User:
    """A freshly registered, active user with an unverified e-mail address."""
    return User(
        id=str(uuid.uuid4()),
        email=email,
        username=username,
        password_hash=password_hash,
        roles=roles,
        status=ACTIVE,
        email_verified=False,
        language=language,
        created_at=now,
    )
