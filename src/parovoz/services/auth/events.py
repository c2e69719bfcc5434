"""What Auth emits: `auth.user.registered.v1`, built from a freshly registered user."""

from __future__ import annotations

from parovoz.chassis.db import UnitOfWork
from parovoz.contracts.events import AUTH_USER_REGISTERED, UserRegisteredV1
from parovoz.services.auth.domain.users import User

EMITS: tuple[str, ...] = (AUTH_USER_REGISTERED.name,)


def user_registered_data(user: User) -> UserRegisteredV1:
    return UserRegisteredV1(
        user_id=user.id,
        email=user.email,
        username=user.username,
        roles=list(user.roles),
        registered_at=user.created_at,
        language=user.language,
    )


async def emit_user_registered(uow: UnitOfWork, user: User) -> None:
    """Queue the event in `uow`'s transaction (the outbox row commits with the user row)."""
    await uow.emit(
        AUTH_USER_REGISTERED.name,
        subject=user.id,
        data=user_registered_data(user),
    )
