"""Auth's events: what it emits (`auth.user.registered.v1`, built from a freshly registered user;
`auth.email.verification.requested.v1` and `auth.password.reset.requested.v1`, carrying a
single-use token for Notification to mail) and what it consumes (`account.user.blocked.v1`: staff
blocked or unblocked an account)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from parovoz.chassis.db import UnitOfWork
from parovoz.chassis.events.cloudevents import CloudEvent, InvalidEvent
from parovoz.chassis.obs.logging import get_logger
from parovoz.contracts.events import (
    AUTH_EMAIL_VERIFICATION_REQUESTED,
    AUTH_PASSWORD_RESET_REQUESTED,
    AUTH_USER_NEW_COUNTRY_SIGNED_IN,
    AUTH_USER_REGISTERED,
    AUTH_USER_ROLES_CHANGED,
    AUTH_USER_SESSIONS_REVOKED,
    AUTH_USER_TWO_FACTOR_CHANGED,
    AccountUserBlockedV1,
    ConsentV1,
    EmailVerificationRequestedV1,
    PasswordResetRequestedV1,
    UserRegisteredV1,
)
from parovoz.services.auth.domain.one_time import RESET_PASSWORD, VERIFY_EMAIL, OneTimeToken
from parovoz.services.auth.domain.users import ACTIVE, BLOCKED, Consent, User

if TYPE_CHECKING:
    from parovoz.chassis.service import ServiceContext

log = get_logger(__name__)

EMITS: tuple[str, ...] = (
    AUTH_USER_REGISTERED.name,
    AUTH_EMAIL_VERIFICATION_REQUESTED.name,
    AUTH_PASSWORD_RESET_REQUESTED.name,
    AUTH_USER_TWO_FACTOR_CHANGED.name,
    # written by sign_in_places.py and role_changes.py
    AUTH_USER_NEW_COUNTRY_SIGNED_IN.name,
    AUTH_USER_ROLES_CHANGED.name,
    # written by revocations.py with every session revocation of the store
    AUTH_USER_SESSIONS_REVOKED.name,
)
# `revoked_reason` of the sessions a block ended
BLOCKED_REASON = "user_blocked"


def user_registered_data(user: User, consents: tuple[Consent, ...] = ()) -> UserRegisteredV1:
    return UserRegisteredV1(
        user_id=user.id,
        email=user.email,
        username=user.username,
        roles=list(user.roles),
        registered_at=user.created_at,
        language=user.language,
        consents=[
            ConsentV1(
                purpose=c.purpose, version=c.version, given_at=c.given_at, ip=c.ip, user_agent=c.user_agent
            )
            for c in consents
        ],
    )


async def emit_user_registered(uow: UnitOfWork, user: User, consents: tuple[Consent, ...] = ()) -> None:
    """Queue the event in `uow`'s transaction (the outbox row commits with the user row)."""
    await uow.emit(
        AUTH_USER_REGISTERED.name,
        subject=user.id,
        data=user_registered_data(user, consents),
    )


async def emit_one_time_token(uow: UnitOfWork, user: User, token: OneTimeToken) -> None:
    """Queue the mail-me event of a fresh token in `uow`'s transaction (with the token row)."""
    fields = {
        "user_id": user.id,
        "email": user.email,
        "token": token.token,
        "expires_at": token.expires_at,
        "language": user.language,
    }
    if token.purpose == VERIFY_EMAIL:
        await uow.emit(
            AUTH_EMAIL_VERIFICATION_REQUESTED.name,
            subject=user.id,
            data=EmailVerificationRequestedV1(**fields),
        )
    elif token.purpose == RESET_PASSWORD:
        await uow.emit(
            AUTH_PASSWORD_RESET_REQUESTED.name, subject=user.id, data=PasswordResetRequestedV1(**fields)
        )
    else:
        raise ValueError(f"no event for one-time token purpose {token.purpose!r}")


async def on_user_blocked(ctx: ServiceContext, uow: UnitOfWork, event: CloudEvent) -> None:
    """Apply a block or unblock decided in Account: the user's status, and when blocking, the end
    of every session (with its refresh tokens) in the same transaction as the inbox row.

    Sign-in then answers 403 ACCOUNT_BLOCKED; a refresh token of an ended session is refused.
    Events of one user share a key (the user id), so they arrive in the order Account made them.
    """
    # Imported here: the store imports this module (for `emit_user_registered`).
    from parovoz.services.auth.store import AuthTransaction

    data = event.model()
    if not isinstance(data, AccountUserBlockedV1):
        raise InvalidEvent(f"{event.name} does not carry AccountUserBlockedV1 data")
    try:
        user_id = str(uuid.UUID(data.user_id))
    except ValueError:
        raise InvalidEvent(f"userId {data.user_id!r} of event {event.id} is not a UUID") from None
    tx = AuthTransaction(uow)
    now = datetime.now(UTC)
    if not await tx.set_user_status(user_id, BLOCKED if data.blocked else ACTIVE, now):
        # Accounts are made from Auth's users, so this is a user Auth no longer has: nothing to do.
        log.warning("blocked_user_unknown", user_id=user_id, event_id=event.id)
        return
    ended = await tx.revoke_all_sessions(user_id, now, BLOCKED_REASON) if data.blocked else 0
    log.info(
        "user_blocked" if data.blocked else "user_unblocked",
        user_id=user_id,
        sessions_ended=ended,
        event_id=event.id,
    )
