"""The data-export job: claims pending exports, builds each user's archive (Account's data plus
Auth's, fetched over gRPC) and stores it; purges archives past their 7 days.

Every replica runs it; claims use `FOR UPDATE SKIP LOCKED`, so each export is built by one run.
A run that crashes leaves its export `running` with a lease that runs out: a later run takes it
again. A failing build is retried with back-off, then marked failed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic.alias_generators import to_camel

from parovoz.chassis.obs.logging import get_logger
from parovoz.chassis.service import Job, ServiceContext
from parovoz.services.account import export_store, privacy_store, store
from parovoz.services.account.clients import auth_client
from parovoz.services.account.domain import exports, privacy, profile

log = get_logger(__name__)

CLAIM_BATCH = 4
POLL_INTERVAL_S = 1.0
PURGE_INTERVAL_S = 3600.0


def _camel(values: dict[str, Any]) -> dict[str, Any]:
    return {to_camel(name): value for name, value in values.items()}


async def account_data(ctx: ServiceContext, user_id: str) -> dict[str, Any] | None:
    """Everything Account holds about the user, JSON-ready (camelCase); None without an account."""
    async with ctx.db.connect() as conn:
        account = await store.get_account(conn, user_id)
        if account is None:
            return None
        privacy_settings = await privacy_store.get_privacy(conn, user_id)
        notifications, _ = await privacy_store.get_notifications(conn, user_id)
        consents = await privacy_store.list_consents(conn, user_id)
        history = await privacy_store.status_changes(conn, user_id)
    return {
        "profile": {"id": account.id, **_camel(profile.private_profile(account))},
        "privacy": _camel(privacy.settings_of(privacy_settings)),
        "settings": {"language": account.language, "notifications": notifications},
        "consents": [
            {
                "purpose": c.purpose,
                "version": c.version,
                "givenAt": c.given_at,
                "ip": c.ip,
                "userAgent": c.user_agent,
                "withdrawnAt": c.withdrawn_at,
            }
            for c in consents
        ],
        "statusHistory": [_camel(change) for change in history],
    }


async def build_export(ctx: ServiceContext, user_id: str) -> bytes:
    """The archive of one user's data; raises when a part cannot be had (the run is retried)."""
    account = await account_data(ctx, user_id)
    if account is None:
        raise LookupError("the account no longer exists")
    auth = await auth_client(ctx).export_user_data(user_id)
    return exports.build_archive(account, auth)


async def run_exports(ctx: ServiceContext) -> int:
    """One pass: claim due exports and build them; how many completed."""
    async with ctx.db.transaction() as uow:
        claims = await export_store.claim(uow.conn, datetime.now(UTC), CLAIM_BATCH)
    completed = 0
    for claimed in claims:
        try:
            archive = await build_export(ctx, claimed.user_id)
        except Exception as exc:  # any failure of one export must not stop the others
            async with ctx.db.transaction() as uow:
                status = await export_store.fail(
                    uow.conn, claimed, f"{type(exc).__name__}: {exc}", datetime.now(UTC)
                )
            log.warning(
                "data_export_failed",
                export_id=claimed.id,
                attempt=claimed.attempt,
                status=status,
                error=type(exc).__name__,
            )
            continue
        async with ctx.db.transaction() as uow:
            done = await export_store.complete(uow.conn, claimed, archive, datetime.now(UTC))
        if done:
            completed += 1
            log.info("data_export_completed", export_id=claimed.id, size=len(archive))
    return completed


async def purge_exports(ctx: ServiceContext) -> None:
    async with ctx.db.transaction() as uow:
        purged = await export_store.purge_expired(uow.conn, datetime.now(UTC))
    if purged:
        log.info("data_exports_purged", count=purged)


async def build_exports(ctx: ServiceContext) -> None:
    await run_exports(ctx)


JOBS = (
    Job("build-data-exports", POLL_INTERVAL_S, build_exports),
    Job("purge-expired-data-exports", PURGE_INTERVAL_S, purge_exports),
)
