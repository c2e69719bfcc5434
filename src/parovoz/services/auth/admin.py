"""Operator use cases run from the command line (`parovoz admin create-user`), not over HTTP.

A user made here goes through the same sign-up flow as `POST /api/v1/auth/register`: the same
validation, argon2id hashing and `auth.user.registered.v1` event in the outbox (the running
platform's relay publishes it, so Account creates the profile). Only the roles differ: an operator
may grant any platform role, which is how the first admin is bootstrapped.
"""

from __future__ import annotations

from collections.abc import Iterable

from parovoz.chassis.db import Database
from parovoz.chassis.db.migrate import migrate
from parovoz.chassis.errors import register_messages, unprocessable
from parovoz.chassis.security.roles import ALL_ROLES, USER
from parovoz.chassis.security.tokens import IssuedToken
from parovoz.services.auth.config import AuthConfig
from parovoz.services.auth.domain import errors, rules
from parovoz.services.auth.domain.flows import AuthFlows
from parovoz.services.auth.domain.passwords import Passwords
from parovoz.services.auth.domain.users import User
from parovoz.services.auth.spec import SPEC
from parovoz.services.auth.store import AuthDbStore

register_messages(
    {
        "INVALID_ROLE": {
            "ru": ("Неизвестная роль", "Неизвестная роль «{role}»; допустимы: {allowed}."),
            "en": ("Unknown role", "Unknown role '{role}'; allowed: {allowed}."),
        },
    }
)


def checked_roles(roles: Iterable[str]) -> tuple[str, ...]:
    """`user` first, then the other requested roles once each; an unknown role is refused."""
    result = [USER]
    for role in roles:
        role = role.strip().lower()
        if role not in ALL_ROLES:
            raise unprocessable(
                "INVALID_ROLE",
                pointer="/data/attributes/roles",
                params={"role": role, "allowed": ", ".join(sorted(ALL_ROLES))},
            )
        if role not in result:
            result.append(role)
    return tuple(result)


async def _no_tokens(user: User, session_id: str) -> IssuedToken:
    raise RuntimeError("the admin use case issues no tokens")


async def _email_exists(store: AuthDbStore, email: str) -> bool:
    try:
        key = rules.normalize_email(email)
    except rules.RuleViolation:
        return False  # the flow answers INVALID_EMAIL
    return await store.user_by_login(key) is not None


async def create_user(
    db: Database,
    *,
    email: str,
    username: str,
    password: str,
    roles: Iterable[str] = (),
    config: AuthConfig | None = None,
) -> str:
    """Migrate Auth's database, then register the user with `roles` (plus `user`); its id.

    Raises the flow's `ApiError`s: INVALID_EMAIL / INVALID_USERNAME / INVALID_PASSWORD /
    INVALID_ROLE (422) and EMAIL_TAKEN / USERNAME_TAKEN (409). An existing user is never changed.
    """
    granted = checked_roles(roles)
    config = config or AuthConfig()
    await migrate(db, SPEC.migrations)
    store = AuthDbStore(db)
    passwords = Passwords(config.hash_params, workers=1)
    try:
        flows = AuthFlows(
            store,
            passwords,
            _no_tokens,
            access_ttl=config.access_ttl,
            refresh_ttl=config.refresh_ttl,
        )
        # Checked up front for a clear answer without hashing; the unique index still settles races.
        if await _email_exists(store, email):
            raise errors.email_taken()
        user = await flows.register(email, username, password, roles=granted)
    finally:
        passwords.close()
    return user.id
