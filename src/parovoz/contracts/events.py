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


class TwoFactorChangedV1(CamelModel):
    """A user turned two-factor authentication (TOTP) on (`enabled` true) or off (false):
    Notification mails the owner at `email` in `language`, so an unexpected change is noticed."""

    user_id: str
    enabled: bool
    changed_at: datetime
    email: str
    language: str = "ru"


AUTH_USER_TWO_FACTOR_CHANGED = register(
    EventDef(
        name="auth.user.two_factor.changed.v1",
        owner="auth",
        data=TwoFactorChangedV1,
        description="A user turned 2FA (TOTP) on or off: Notification warns the owner by mail.",
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


class AccountUserDeletedV1(CamelModel):
    """A user deleted their account (152-FZ erasure): Account has anonymised the profile and
    withdrawn the consents; every service erases or anonymises what it holds about `userId`."""

    user_id: str
    deleted_at: datetime


ACCOUNT_USER_DELETED = register(
    EventDef(
        name="account.user.deleted.v1",
        owner="account",
        data=AccountUserDeletedV1,
        description="A user deleted their account. Auth anonymises the credentials, ends every "
        "session and deletes one-time tokens; every holder of the user's personal data erases it.",
    )
)


class NewCountrySignedInV1(CamelModel):
    """A user signed in from a country they never signed in from before (GeoIP of the client
    address): Notification mails "was this you?" in the user's language."""

    user_id: str
    email: str
    language: str = "ru"
    session_id: str
    # ISO 3166-1 alpha-2 code of the new country
    country: str
    # English city name; null when the GeoIP database does not know it
    city: str | None = None
    ip: str | None = None
    # short client name from the user agent, e.g. "Chrome on Windows"; null when unknown
    device: str | None = None
    signed_in_at: datetime


AUTH_USER_NEW_COUNTRY_SIGNED_IN = register(
    EventDef(
        name="auth.user.new_country_signed_in.v1",
        owner="auth",
        data=NewCountrySignedInV1,
        description="A user who had signed in before signed in from a country never seen for them "
        '(emitted with the session). Notification mails "was this you?" with the place and device.',
    )
)


class UserRolesChangedV1(CamelModel):
    """An administrator changed a user's roles; every session of the user was ended with it, so
    no token carries the old roles past its expiry."""

    user_id: str
    # the roles now granted ("user" always among them)
    roles: list[str]
    previous_roles: list[str]
    changed_at: datetime


AUTH_USER_ROLES_CHANGED = register(
    EventDef(
        name="auth.user.roles.changed.v1",
        owner="auth",
        data=UserRolesChangedV1,
        description="A user's platform roles changed (Auth's SetUserRoles, an Admin action); the "
        "user's sessions ended. Services caching roles refresh them.",
    )
)


class SessionsRevokedV1(CamelModel):
    """Sessions of one user ended (logout, revocation by the user, password change or reset, block,
    refresh-token reuse, role change, deletion): their refresh tokens are dead, and their access
    tokens (claim `sid`) are refused everywhere from now on, although not yet expired."""

    user_id: str
    # the ended sessions (the `sid` claim of their access tokens)
    session_ids: list[str]
    # why, e.g. "logout", "revoked_by_user", "password_changed", "password_reset", "user_blocked",
    # "refresh_token_reused"
    reason: str
    revoked_at: datetime


AUTH_USER_SESSIONS_REVOKED = register(
    EventDef(
        name="auth.user.sessions.revoked.v1",
        owner="auth",
        data=SessionsRevokedV1,
        description="Sessions of a user ended. Auth consumes it itself and puts the session ids on the "
        "platform's revocation list, which every token verifier consults: their access tokens stop "
        "working at once instead of at expiry.",
    )
)
