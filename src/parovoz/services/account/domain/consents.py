"""152-FZ consents: one versioned record per purpose, with when, from where and its withdrawal.

`terms` and `privacy` come from sign-up (Auth's registration event); `marketing` is opt-in and
given or withdrawn by the user at any time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

TERMS = "terms"
PRIVACY = "privacy"
MARKETING = "marketing"
PURPOSES: tuple[str, ...] = (TERMS, PRIVACY, MARKETING)
# The marketing consent text's version when settings do not name one (ACCOUNT_MARKETING_CONSENT_VERSION).
DEFAULT_MARKETING_VERSION = "2026-11-01"
USER_AGENT_MAX = 512


@dataclass(frozen=True)
class Consent:
    id: str
    purpose: str
    version: str
    given_at: datetime
    ip: str | None
    user_agent: str | None
    withdrawn_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.withdrawn_at is None


def clipped_user_agent(user_agent: str | None) -> str | None:
    """User agents are client-controlled: keep what identifies a browser, not a megabyte."""
    return user_agent[:USER_AGENT_MAX] if user_agent else None
