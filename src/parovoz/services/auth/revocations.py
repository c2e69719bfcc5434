"""Ended sessions' access tokens refused at once, Auth's side of it.

Every session revocation of the store (`AuthTransaction._sessions_ended`) writes
`auth.user.sessions.revoked.v1` in its own transaction. Auth consumes that event itself and puts
the session ids on the process's revocation list (`ctx.revocations`: the embedded platform's one
shared list, or the Redis-backed one every distributed process follows), so a revocation survives
an Auth crash between commit and publish (the outbox), and a redelivery changes nothing (the
list's entries are idempotent). At start Auth puts the sessions ended within the last access-token
lifetime back on the list: a restarted embedded platform (or a flushed Redis) forgets nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa

from parovoz.chassis.db import UnitOfWork
from parovoz.chassis.events.cloudevents import CloudEvent, InvalidEvent
from parovoz.chassis.obs.logging import get_logger
from parovoz.chassis.security.tokens import DEFAULT_LEEWAY
from parovoz.contracts.events import AUTH_USER_SESSIONS_REVOKED, SessionsRevokedV1
from parovoz.services.auth.tables import sessions

if TYPE_CHECKING:
    from parovoz.chassis.service import ServiceContext

log = get_logger(__name__)


def refused_until(revoked_at: datetime, access_ttl: int) -> float:
    """Unix time after which every access token of a session ended at `revoked_at` has expired
    (the verifiers' clock leeway included): the list may forget the session then."""
    return revoked_at.timestamp() + access_ttl + DEFAULT_LEEWAY


async def emit_sessions_revoked(
    uow: UnitOfWork, user_id: str, session_ids: Sequence[str], revoked_at: datetime, reason: str
) -> None:
    """Queue the event in `uow`'s transaction (it commits with the revocation)."""
    await uow.emit(
        AUTH_USER_SESSIONS_REVOKED.name,
        subject=user_id,
        data=SessionsRevokedV1(
            user_id=user_id, session_ids=list(session_ids), reason=reason, revoked_at=revoked_at
        ),
    )


def _access_ttl(ctx: ServiceContext) -> int:
    # Imported here: the store imports this module, and the wiring imports the store.
    from parovoz.services.auth.wiring import components

    return components(ctx).config.access_ttl


async def on_sessions_revoked(ctx: ServiceContext, uow: UnitOfWork, event: CloudEvent) -> None:
    """Put the event's sessions on the revocation list (a Redis outage raises `ConnectionError`:
    the consumer retries it as an outage, and this process refuses the tokens meanwhile)."""
    data = event.model()
    if not isinstance(data, SessionsRevokedV1):
        raise InvalidEvent(f"{event.name} does not carry SessionsRevokedV1 data")
    revoked_at = data.revoked_at if data.revoked_at.tzinfo else data.revoked_at.replace(tzinfo=UTC)
    await ctx.revocations.revoke(data.session_ids, refused_until(revoked_at, _access_ttl(ctx)))


async def restore_recent_revocations(ctx: ServiceContext) -> int:
    """Put the sessions ended within the last access-token lifetime (back) on the list; how many.
    A shared store that is down is logged, not fatal: its own resync and the events heal it."""
    access_ttl = _access_ttl(ctx)
    since = datetime.now(UTC) - timedelta(seconds=access_ttl + DEFAULT_LEEWAY)
    query = sa.select(sessions.c.id, sessions.c.revoked_at).where(sessions.c.revoked_at > since)
    async with ctx.db.connect() as conn:
        rows = (await conn.execute(query)).all()
    by_time: dict[datetime, list[str]] = defaultdict(list)
    for row in rows:
        by_time[row.revoked_at].append(str(row.id))
    try:
        for revoked_at, session_ids in by_time.items():
            await ctx.revocations.revoke(session_ids, refused_until(revoked_at, access_ttl))
    except ConnectionError as exc:
        log.warning("revocations_not_restored", error=repr(exc), sessions=len(rows))
        return 0
    if rows:
        log.info("revocations_restored", sessions=len(rows))
    return len(rows)
