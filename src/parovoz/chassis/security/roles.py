"""Role names carried in access tokens (`roles` claim) and checked by `require_roles`."""

from __future__ import annotations

USER = "user"
DEVELOPER = "developer"
MODERATOR = "moderator"
SUPPORT = "support"
FINANCE = "finance"
ADMIN = "admin"

ALL_ROLES: frozenset[str] = frozenset({USER, DEVELOPER, MODERATOR, SUPPORT, FINANCE, ADMIN})
# Platform employees: they reach back-office functions; developers and users never do.
STAFF: frozenset[str] = frozenset({MODERATOR, SUPPORT, FINANCE, ADMIN})
