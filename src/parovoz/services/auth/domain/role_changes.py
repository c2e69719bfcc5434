"""Granting and taking away platform roles (an Admin action over gRPC, or the operator's CLI).

Roles travel inside access tokens, so a change must reach every token of the user: the change
ends every session (their refresh tokens die with them) and the next sign-in carries the new
roles. The roles, the ended sessions and `auth.user.roles.changed.v1` commit together.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from parovoz.chassis.errors import ApiError, register_messages, unprocessable
from parovoz.chassis.security.roles import ALL_ROLES, USER

register_messages(
    {
        "INVALID_ROLE": {
            "ru": ("Неизвестная роль", "Неизвестная роль «{role}»; допустимы: {allowed}."),
            "en": ("Unknown role", "Unknown role '{role}'; allowed: {allowed}."),
        },
    }
)

# `revoked_reason` of the sessions a role change ended
ROLES_CHANGED_REASON = "roles_changed"
_ROLE_MAX = 32


def checked_roles(roles: Iterable[str]) -> tuple[str, ...]:
    """`user` first, then the other requested roles once each; an unknown role is refused (422
    INVALID_ROLE)."""
    result = [USER]
    for role in roles:
        role = role.strip().lower()
        if role not in ALL_ROLES:
            raise unprocessable(
                "INVALID_ROLE",
                pointer="/data/attributes/roles",
                params={"role": role[:_ROLE_MAX], "allowed": ", ".join(sorted(ALL_ROLES))},
            )
        if role not in result:
            result.append(role)
    return tuple(result)


class RolesTx(Protocol):
    async def lock_user_roles(self, user_id: str) -> tuple[str, ...] | None:
        """The user's roles, the row locked until commit; None for an unknown user."""
        ...

    async def set_user_roles(self, user_id: str, roles: tuple[str, ...], now: datetime) -> None: ...

    async def revoke_all_sessions(self, user_id: str, now: datetime, reason: str) -> int: ...

    async def record_roles_changed(
        self, user_id: str, roles: tuple[str, ...], previous: tuple[str, ...], now: datetime
    ) -> None:
        """Write auth.user.roles.changed.v1 in this transaction."""
        ...


@dataclass(frozen=True)
class RoleChange:
    user_id: str
    roles: tuple[str, ...]
    previous_roles: tuple[str, ...]
    # False when the user already had exactly these roles: nothing was written nor ended
    changed: bool
    sessions_ended: int


async def set_user_roles(
    transaction: Callable[[], AbstractAsyncContextManager[RolesTx]],
    user_id: str,
    roles: Iterable[str],
    *,
    now: datetime,
) -> RoleChange:
    """Give the user exactly `roles` (plus `user`). Unknown role → 422 INVALID_ROLE, unknown user →
    404 USER_NOT_FOUND, both before anything is written."""
    granted = checked_roles(roles)
    async with transaction() as tx:
        previous = await tx.lock_user_roles(user_id)
        if previous is None:
            raise ApiError(404, "USER_NOT_FOUND")
        if set(previous) == set(granted):
            return RoleChange(user_id, previous, previous, changed=False, sessions_ended=0)
        await tx.set_user_roles(user_id, granted, now)
        ended = await tx.revoke_all_sessions(user_id, now, ROLES_CHANGED_REASON)
        await tx.record_roles_changed(user_id, granted, previous, now)
    return RoleChange(user_id, granted, previous, changed=True, sessions_ended=ended)
