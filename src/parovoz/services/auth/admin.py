"""Operator use cases run from the command line (`parovoz admin create-user`, `parovoz admin
set-roles`), not over HTTP.

A user made here goes through the same sign-up flow as `POST /api/v1/auth/register`: the same
validation, argon2id hashing and `auth.user.registered.v1` event in the outbox (the running
platform's relay publishes it, so Account creates the profile). Only the roles differ: an operator
may grant any platform role, which is how the first admin is bootstrapped.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from parovoz.chassis.db import Database
from parovoz.chassis.db.migrate import migrate
from parovoz.chassis.errors import ApiError
from parovoz.chassis.security.tokens import IssuedToken
from parovoz.services.auth.config import AuthConfig
from parovoz.services.auth.domain import errors, rules
from parovoz.services.auth.domain.flows import AuthFlows
from parovoz.services.auth.domain.passwords import Passwords
from parovoz.services.auth.domain.role_changes import RoleChange, checked_roles
from parovoz.services.auth.domain.users import User
from parovoz.services.auth.roles_store import change_roles
from parovoz.services.auth.spec import SPEC
from parovoz.services.auth.store import AuthDbStore

__all__ = ["checked_roles", "create_user", "set_roles"]


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


async def _user_id_of(store: AuthDbStore, user: str) -> str:
    """The id of the user named by id, e-mail or username; 404 USER_NOT_FOUND when none is."""
    key = user.strip()
    try:
        found = await store.user_by_id(str(uuid.UUID(key)))
    except ValueError:
        login = rules.normalize_login(key)
        if rules.is_email_login(login):
            try:
                login = rules.normalize_email(login)
            except rules.RuleViolation:
                pass  # matches nobody: USER_NOT_FOUND below
        found = await store.user_by_login(login)
    if found is None:
        raise ApiError(404, "USER_NOT_FOUND")
    return found.id


async def set_roles(db: Database, *, user: str, roles: Iterable[str]) -> RoleChange:
    """Migrate Auth's database, then give the user (id, e-mail or username) exactly `roles` (plus
    `user`): the same use case as the gRPC SetUserRoles — every session of the user ends and
    `auth.user.roles.changed.v1` goes into the outbox (the running platform's relay publishes it).

    Raises INVALID_ROLE (422) before looking anything up, USER_NOT_FOUND (404).
    """
    checked_roles(roles)
    await migrate(db, SPEC.migrations)
    user_id = await _user_id_of(AuthDbStore(db), user)
    return await change_roles(db, user_id, roles)
