"""The user's language follows Account: Auth keeps a copy in `users.language` for the mails it asks
for and the `lang` claim of access tokens (which the gateway turns into `Accept-Language`).

Account emits `account.user.updated.v1` naming the changed fields, not their values; when
"language" is among them, Auth asks Account's `GetAccount` for the current value. Asking for the
value (instead of trusting an order of events) makes a redelivered or late event harmless: the
copy always ends up equal to Account's.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import grpc

from parovoz.chassis.errors import LANGUAGES
from parovoz.chassis.events.cloudevents import CloudEvent, InvalidEvent
from parovoz.chassis.obs.logging import get_logger
from parovoz.contracts.events import AccountUserUpdatedV1
from parovoz.protos.platform.account.v1 import account_pb2, account_pb2_grpc
from parovoz.services.auth.tables import users

if TYPE_CHECKING:
    from parovoz.chassis.db import UnitOfWork
    from parovoz.chassis.service import ServiceContext

log = get_logger(__name__)

ACCOUNT = "account"
# the camelCase attribute name Account reports in changedFields
LANGUAGE_FIELD = "language"
GET_ACCOUNT_TIMEOUT_S = 3.0
# Account not answering is an outage (the consumer retries until it ends), never a poison event.
_OUTAGE_CODES = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.RESOURCE_EXHAUSTED}
)


async def account_language(ctx: ServiceContext, user_id: str) -> str | None:
    """The language of the user's account at Account; None when Account has no such account."""
    stub = account_pb2_grpc.AccountServiceStub(ctx.channel(ACCOUNT))
    try:
        reply = await stub.GetAccount(
            account_pb2.GetAccountRequest(user_id=user_id), timeout=GET_ACCOUNT_TIMEOUT_S
        )
    except grpc.aio.AioRpcError as exc:
        if exc.code() == grpc.StatusCode.NOT_FOUND:
            return None
        if exc.code() in _OUTAGE_CODES:
            raise ConnectionError(f"Account's GetAccount failed: {exc.code().name}") from exc
        raise
    return reply.account.language


async def on_user_updated(ctx: ServiceContext, uow: UnitOfWork, event: CloudEvent) -> None:
    """Copy the user's language from Account when the event says it changed (in the consumer's
    transaction, next to the inbox row: one event acts once)."""
    data = event.model()
    if not isinstance(data, AccountUserUpdatedV1):
        raise InvalidEvent(f"{event.name} does not carry AccountUserUpdatedV1 data")
    if LANGUAGE_FIELD not in data.changed_fields:
        return
    try:
        user_id = str(uuid.UUID(data.user_id))
    except ValueError:
        raise InvalidEvent(f"userId {data.user_id!r} of event {event.id} is not a UUID") from None
    language = await account_language(ctx, user_id)
    if language is None:
        log.warning("language_account_unknown", user_id=user_id, event_id=event.id)
        return
    if language not in LANGUAGES:
        # Account validates it; a value we cannot serve mails in is not copied
        log.warning("language_unsupported", user_id=user_id, language=language[:16], event_id=event.id)
        return
    result = await uow.conn.execute(
        users.update()
        .where(users.c.id == user_id, users.c.language != language)
        .values(language=language, updated_at=datetime.now(UTC))
    )
    log.info("language_followed", user_id=user_id, language=language, changed=result.rowcount == 1)
