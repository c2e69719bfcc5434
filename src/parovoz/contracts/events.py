"""Every integration event of the platform: name, owner, data schema. The registry reads this.

An incompatible change of a `data` model is a new event version (a new class and definition);
compatible additions (new optional fields) keep the version.
"""

from __future__ import annotations

from datetime import datetime

from parovoz.chassis.events.registry import EventDef, register
from parovoz.chassis.models import CamelModel


class ConsentV1(CamelModel):
    """A consent the user gave (152-FZ: a separate, versioned record per purpose)."""

    # "terms" (the user agreement) or "privacy" (personal-data processing)
    purpose: str
    # the version of the document agreed to, e.g. "2026-11-01"
    version: str
    given_at: datetime
    ip: str | None = None
    user_agent: str | None = None


class UserRegisteredV1(CamelModel):
    """A user registered with Auth; Account creates the account and profile from it, and keeps
    the consents given at sign-up (empty for accounts made by staff tools)."""

    user_id: str
    email: str
    username: str
    roles: list[str]
    registered_at: datetime
    language: str = "ru"
    consents: list[ConsentV1] = []


AUTH_USER_REGISTERED = register(
    EventDef(
        name="auth.user.registered.v1",
        owner="auth",
        data=UserRegisteredV1,
        description="A new user registered (e-mail and password). Account creates the profile.",
    )
)


class EmailVerificationRequestedV1(CamelModel):
    """A user's e-mail address is to be verified: Notification mails the link with `token`
    (single-use, valid until `expiresAt`) in the user's language. `token` is secret."""

    user_id: str
    email: str
    token: str
    expires_at: datetime
    language: str = "ru"


AUTH_EMAIL_VERIFICATION_REQUESTED = register(
    EventDef(
        name="auth.email.verification.requested.v1",
        owner="auth",
        data=EmailVerificationRequestedV1,
        description="A user signed up (or asked again): Notification mails the verification link "
        "carrying the single-use token. The token is secret: never logged nor kept by Analytics.",
        secret_fields=frozenset({"token"}),
    )
)


class PasswordResetRequestedV1(CamelModel):
    """A user asked to reset the password: Notification mails the link with `token` (single-use,
    valid until `expiresAt`) in the user's language. `token` is secret."""

    user_id: str
    email: str
    token: str
    expires_at: datetime
    language: str = "ru"


AUTH_PASSWORD_RESET_REQUESTED = register(
    EventDef(
        name="auth.password.reset.requested.v1",
        owner="auth",
        data=PasswordResetRequestedV1,
        description="A user asked for a password reset: Notification mails the reset link carrying "
        "the single-use token. The token is secret: never logged nor kept by Analytics.",
        secret_fields=frozenset({"token"}),
    )
)


class AccountUserUpdatedV1(CamelModel):
    """A user changed their profile; the event says what changed, not to what (ask Account's
    `GetAccount` for the values): a consumer that keeps a copy refreshes the fields it holds."""

    user_id: str
    # camelCase names of the profile attributes that changed, e.g. ["displayName", "country"]
    changed_fields: list[str]
    updated_at: datetime


ACCOUNT_USER_UPDATED = register(
    EventDef(
        name="account.user.updated.v1",
        owner="account",
        data=AccountUserUpdatedV1,
        description="A profile changed (changedFields: camelCase attribute names). Social keeps "
        "profiles in step.",
    )
)


class AccountUserBlockedV1(CamelModel):
    """Staff blocked (`blocked` true) or unblocked (`blocked` false) an account. One event for
    both directions, keyed by the user id, so that consumers see the changes of a user in order."""

    user_id: str
    blocked: bool
    # why: always present when blocking; may be null when unblocking
    reason: str | None = None
    changed_at: datetime


ACCOUNT_USER_BLOCKED = register(
    EventDef(
        name="account.user.blocked.v1",
        owner="account",
        data=AccountUserBlockedV1,
        description="An account was blocked (blocked=true) or unblocked (blocked=false) by staff. "
        "Auth refuses sign-in to a blocked user and ends every session of it.",
    )
)
