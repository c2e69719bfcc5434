"""Account deletion on Auth's side: `account.user.deleted.v1` erases the user's credentials.

The user row stays (its id is referenced by sessions and by other services' records) but holds
nothing personal: e-mail and username become unique placeholders no sign-in can match, the password
hash is removed and the status is `deleted`. Every session ends and one-time tokens are deleted.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parovoz.chassis.events.cloudevents import CloudEvent, InvalidEvent
from parovoz.chassis.obs.logging import get_logger
from parovoz.contracts.events import AccountUserDeletedV1
from parovoz.services.auth.external_store import erase_external_identities
from parovoz.services.auth.mfa_store import erase_two_factor
from parovoz.services.auth.store import AuthTransaction
from parovoz.services.auth.tables import one_time_tokens, refresh_tokens, sessions, users

if TYPE_CHECKING:
    from parovoz.chassis.db import UnitOfWork
    from parovoz.chassis.service import ServiceContext

log = get_logger(__name__)

DELETED = "deleted"
# `revoked_reason` of the sessions a deletion ended
DELETED_REASON = "user_deleted"
# RFC 2606 reserves `.invalid`: no mail can ever reach it.
PLACEHOLDER_DOMAIN = "deleted.invalid"


def placeholder_email(user_id: str) -> str:
    """Unique per user, lower-case (the users_email_lower check), in a domain that cannot exist."""
    return f"deleted-{uuid.UUID(user_id).hex}@{PLACEHOLDER_DOMAIN}"


def placeholder_username(user_id: str) -> str:
    """Unique per user; "~" is outside the username alphabet, so nobody can sign up with it."""
    return f"~deleted-{uuid.UUID(user_id).hex}"


async def erase_user(conn: AsyncConnection, user_id: str, now: datetime) -> bool:
    """Anonymise the user and end everything that lets anyone act as them; whether the user
    exists. Idempotent. Parts of Auth with their own per-user tables (2FA secrets, recovery codes,
    linked identities) delete their rows here, in the caller's transaction."""
    erased = await conn.execute(
        users.update()
        .where(users.c.id == user_id)
        .values(
            email=placeholder_email(user_id),
            username=placeholder_username(user_id),
            password_hash=None,
            roles=[],
            status=DELETED,
            email_verified=False,
            updated_at=now,
        )
    )
    if erased.rowcount != 1:
        return False
    # Sessions still live here (the event handler revoked them first, with the revocation event)
    # end now all the same, with their refresh tokens.
    await conn.execute(
        sessions.update()
        .where(sessions.c.user_id == user_id, sessions.c.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=DELETED_REASON)
    )
    await conn.execute(
        refresh_tokens.update()
        .where(
            refresh_tokens.c.session_id.in_(
                sa.select(sessions.c.id).where(sessions.c.user_id == user_id).scalar_subquery()
            ),
            refresh_tokens.c.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    # The sessions themselves stay (ended) so that a token of one is recognisably dead; where
    # they were signed in from (IP address, place, device, user agent) is personal data and goes.
    await conn.execute(
        sessions.update()
        .where(sessions.c.user_id == user_id)
        .values(client_ip=None, user_agent=None, country=None, city=None, device=None)
    )
    await conn.execute(one_time_tokens.delete().where(one_time_tokens.c.user_id == user_id))
    await erase_two_factor(conn, user_id)
    await erase_external_identities(conn, user_id)
    log.info("user_erased", user_id=user_id)
    return True


async def on_user_deleted(ctx: ServiceContext, uow: UnitOfWork, event: CloudEvent) -> None:
    """Apply a deletion decided in Account, once (the chassis inbox dedupes by event id; a copy
    under another id finds the user erased already and changes nothing that matters)."""
    data = event.model()
    if not isinstance(data, AccountUserDeletedV1):
        raise InvalidEvent(f"{event.name} does not carry AccountUserDeletedV1 data")
    try:
        user_id = str(uuid.UUID(data.user_id))
    except ValueError:
        raise InvalidEvent(f"userId {data.user_id!r} of event {event.id} is not a UUID") from None
    now = datetime.now(UTC)
    # Through the store first: its revocation has the sessions' access tokens refused everywhere
    # (the revocation list follows the event it writes in this transaction).
    await AuthTransaction(uow).revoke_all_sessions(user_id, now, DELETED_REASON)
    if not await erase_user(uow.conn, user_id, now):
        log.warning("deleted_user_unknown", user_id=user_id, event_id=event.id)
