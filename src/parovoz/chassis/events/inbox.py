"""Inbox: what a consumer has handled, recorded in the same transaction as the handler's effect.

A redelivered event (broker at-least-once, relay re-publish after a crash) finds its row and is
skipped, so its effect happens once. Dedupe key: consumer + CloudEvents `source` + `id`.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from parovoz.chassis.events.cloudevents import CloudEvent

_CLAIM = text(
    "INSERT INTO inbox (consumer, source, event_id) VALUES (:consumer, :source, :event_id) "
    "ON CONFLICT DO NOTHING"
)


async def claim(conn: AsyncConnection, consumer: str, event: CloudEvent) -> bool:
    """Record that `consumer` handles `event` now; False when it was handled before."""
    result = await conn.execute(_CLAIM, {"consumer": consumer, "source": event.source, "event_id": event.id})
    return result.rowcount == 1
