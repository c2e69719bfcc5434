"""The sign-in guard's store: failed sign-ins in `sign_in_failures`, shared by every replica.

One row per failure and key (not a counter per key): concurrent failures against one login never
contend for a row, and both windows slide exactly. Rows older than an hour mean nothing to the
policy and are purged by the `purge-sign-in-failures` job.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from parovoz.chassis.db import Database
from parovoz.chassis.obs.logging import get_logger
from parovoz.chassis.service import Job, ServiceContext
from parovoz.services.auth.domain.sign_in_guard import HOUR, IP, LOGIN, NO_FAILURES, Failures, utcnow
from parovoz.services.auth.tables import sign_in_failures as failures

log = get_logger(__name__)


class SignInFailureStore:
    """`FailureStore` over the service database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def read(
        self, login_key: bytes, ip_key: bytes, *, recent_since: datetime, hour_since: datetime
    ) -> tuple[Failures, Failures]:
        query = (
            sa.select(
                failures.c.key_hash,
                sa.func.count().filter(failures.c.failed_at > recent_since).label("recent"),
                sa.func.count().label("hourly"),
                sa.func.min(failures.c.failed_at).label("first_at"),
                sa.func.max(failures.c.failed_at).label("last_at"),
            )
            .where(failures.c.key_hash.in_([login_key, ip_key]), failures.c.failed_at > hour_since)
            .group_by(failures.c.key_hash)
        )
        async with self.db.connect() as conn:
            rows = (await conn.execute(query)).all()
        found = {row.key_hash: Failures(row.recent, row.hourly, row.first_at, row.last_at) for row in rows}
        return found.get(login_key, NO_FAILURES), found.get(ip_key, NO_FAILURES)

    async def record(self, login_key: bytes, ip_key: bytes, at: datetime) -> None:
        rows = [
            {"kind": LOGIN, "key_hash": login_key, "failed_at": at},
            {"kind": IP, "key_hash": ip_key, "failed_at": at},
        ]
        async with self.db.transaction() as uow:
            await uow.conn.execute(failures.insert().values(rows))

    async def clear(self, login_key: bytes) -> None:
        async with self.db.transaction() as uow:
            await uow.conn.execute(
                failures.delete().where(failures.c.key_hash == login_key, failures.c.kind == LOGIN)
            )

    async def purge(self, before: datetime) -> int:
        async with self.db.transaction() as uow:
            result = await uow.conn.execute(failures.delete().where(failures.c.failed_at < before))
        return result.rowcount


async def _purge(ctx: ServiceContext) -> None:
    # a minute of slack past the longest window, for replicas whose clocks differ a little
    purged = await SignInFailureStore(ctx.db).purge(utcnow() - HOUR - timedelta(minutes=1))
    if purged:
        log.info("sign-in failures purged", count=purged)


PURGE_JOB = Job("purge-sign-in-failures", 600.0, _purge)
