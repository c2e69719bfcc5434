"""Account's event handler: a registration at Auth becomes an account with its profile."""

from __future__ import annotations

from datetime import UTC
from typing import TYPE_CHECKING

from parovoz.chassis.events.cloudevents import CloudEvent, InvalidEvent
from parovoz.chassis.obs.logging import get_logger
from parovoz.contracts.events import UserRegisteredV1
from parovoz.services.account import store
from parovoz.services.account.domain import profile

if TYPE_CHECKING:
    from parovoz.chassis.db import UnitOfWork
    from parovoz.chassis.service import ServiceContext

log = get_logger(__name__)


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
    log.info("account_created" if created else "account_exists", user_id=user_id, event_id=event.id)
