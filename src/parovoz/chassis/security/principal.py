"""The authenticated caller as every service sees it, built from a verified access token."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from parovoz.chassis.security.roles import STAFF


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the user, their roles, the session the token belongs to, the token itself."""

    user_id: str
    roles: frozenset[str]
    session_id: str | None
    token_id: str
    expires_at: datetime
    # the user's language from the token's `lang` claim ("ru"/"en"); None when it has none
    language: str | None = None

    def has_any_role(self, *roles: str) -> bool:
        return not self.roles.isdisjoint(roles)

    @property
    def is_staff(self) -> bool:
        return not self.roles.isdisjoint(STAFF)
