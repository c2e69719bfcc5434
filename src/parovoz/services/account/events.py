"""Account's events: the handler (a registration at Auth becomes an account with its profile) and
what Account emits (`account.user.updated.v1`, `account.user.blocked.v1`,
`account.user.deleted.v1`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from parovoz.chassis.events.cloudevents import CloudEvent, InvalidEvent
from parovoz.chassis.obs.logging import get_logger
from parovoz.contracts.events import (
    ACCOUNT_USER_BLOCKED,
    ACCOUNT_USER_DELETED,
    ACCOUNT_USER_UPDATED,
    AccountUserBlockedV1,
    AccountUserDeletedV1,
    AccountUserUpdatedV1,
    UserRegisteredV1,
)
from parovoz.services.account import privacy_store, store
from parovoz.services.account.domain import profile
from parovoz.services.account.domain.consents import clipped_user_agent

if TYPE_CHECKING:
    from parovoz.chassis.db import UnitOfWork
    from parovoz.chassis.service import ServiceContext

log = get_logger(__name__)

EMITS: tuple[str, ...] = (ACCOUNT_USER_UPDATED.name, ACCOUNT_USER_BLOCKED.name, ACCOUNT_USER_DELETED.name)


async def on_user_registered(ctx: ServiceContext, uow: UnitOfWork, event: CloudEvent) -> None:
    """Create the account and profile of a new user, once.

    Runs in the consumer's transaction next to the inbox row, so one event id acts once; the insert
    itself ignores a user who already has an account, so a copy under another id changes nothing.
    """
    data = event.model()
    if not isinstance(data, UserRegisteredV1):
        raise InvalidEvent(f"{event.name} does not carry UserRegisteredV1 data")
    user_id = profile.canonical_user_id(data.user_id)
    if user_id is None:
        # Poison, not a transient failure: retrying cannot make it a UUID.
        raise InvalidEvent(f"userId {data.user_id!r} of event {event.id} is not a UUID")
    registered_at = data.registered_at
    if registered_at.tzinfo is None:
        registered_at = registered_at.replace(tzinfo=UTC)
    account = profile.new_account(
        user_id=user_id,
        username=data.username,
        email=data.email,
        language=data.language,
        registered_at=registered_at,
    )
    created = await store.insert_account(uow.conn, account)
    if created:
        # 152-FZ: the consents given at sign-up, one record per purpose and version.
        for consent in data.consents:
            await privacy_store.add_consent(
                uow.conn,
                user_id,
                purpose=consent.purpose,
                version=consent.version,
                given_at=consent.given_at
                if consent.given_at.tzinfo
                else consent.given_at.replace(tzinfo=UTC),
                ip=consent.ip,
                user_agent=clipped_user_agent(consent.user_agent),
            )
    log.info("account_created" if created else "account_exists", user_id=user_id, event_id=event.id)


async def emit_user_updated(
    uow: UnitOfWork, user_id: str, changed_fields: list[str], updated_at: datetime
) -> None:
    """`account.user.updated.v1` in `uow`'s transaction; `changed_fields` are camelCase names."""
    await uow.emit(
        ACCOUNT_USER_UPDATED.name,
        subject=user_id,
        data=AccountUserUpdatedV1(user_id=user_id, changed_fields=changed_fields, updated_at=updated_at),
    )


async def emit_user_blocked(
    uow: UnitOfWork, user_id: str, *, blocked: bool, reason: str | None, changed_at: datetime
) -> None:
    """`account.user.blocked.v1` (blocked true or false) in `uow`'s transaction."""
    await uow.emit(
        ACCOUNT_USER_BLOCKED.name,
        subject=user_id,
        data=AccountUserBlockedV1(user_id=user_id, blocked=blocked, reason=reason, changed_at=changed_at),
    )


async def emit_user_deleted(uow: UnitOfWork, user_id: str, deleted_at: datetime) -> None:
    """`account.user.deleted.v1` in `uow`'s transaction (with the anonymisation it announces)."""
    await uow.emit(
        ACCOUNT_USER_DELETED.name,
        subject=user_id,
        data=AccountUserDeletedV1(user_id=user_id, deleted_at=deleted_at),
    )
