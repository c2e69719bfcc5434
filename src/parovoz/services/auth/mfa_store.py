"""The second factor's queries (tables totp_credentials, recovery_codes, mfa_challenges,
mfa_failures); implements the domain's `MfaStore`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from parovoz.chassis.db import Database, UnitOfWork
from parovoz.contracts.events import AUTH_USER_TWO_FACTOR_CHANGED, TwoFactorChangedV1
from parovoz.services.auth.domain.mfa import ChallengeRecord, TotpCredential
from parovoz.services.auth.tables import (
    mfa_challenges,
    mfa_failures,
    recovery_codes,
    totp_credentials,
    users,
)


def _credential(row: Any) -> TotpCredential:
    return TotpCredential(
        user_id=row.user_id,
        secret=row.secret,
        confirmed_at=row.confirmed_at,
        last_used_step=row.last_used_step,
        created_at=row.created_at,
    )


class MfaTransaction:
    """`MfaTx` over one chassis unit of work."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.conn = uow.conn

    async def lock_credential(self, user_id: str) -> TotpCredential | None:
        query = sa.select(totp_credentials).where(totp_credentials.c.user_id == user_id).with_for_update()
        row = (await self.conn.execute(query)).first()
        return _credential(row) if row else None

    async def put_pending(self, user_id: str, secret: str, now: datetime) -> bool:
        # One statement, so two simultaneous starts cannot both insert; a confirmed row stays.
        statement = (
            insert(totp_credentials)
            .values(user_id=user_id, secret=secret, created_at=now)
            .on_conflict_do_update(
                index_elements=[totp_credentials.c.user_id],
                set_={"secret": secret, "created_at": now, "last_used_step": None},
                where=totp_credentials.c.confirmed_at.is_(None),
            )
            .returning(totp_credentials.c.user_id)
        )
        return (await self.conn.execute(statement)).first() is not None

    async def confirm(self, user_id: str, step: int, now: datetime) -> bool:
        result = await self.conn.execute(
            totp_credentials.update()
            .where(totp_credentials.c.user_id == user_id, totp_credentials.c.confirmed_at.is_(None))
            .values(confirmed_at=now, last_used_step=step)
        )
        return result.rowcount == 1

    async def replace_recovery_codes(self, user_id: str, hashes: list[bytes], now: datetime) -> None:
        await self.conn.execute(recovery_codes.delete().where(recovery_codes.c.user_id == user_id))
        await self.conn.execute(
            recovery_codes.insert(),
            [{"user_id": user_id, "code_hash": h, "created_at": now} for h in hashes],
        )

    async def spend_step(self, user_id: str, step: int) -> bool:
        # Conditional: of two simultaneous uses of one code, the second finds the step taken.
        last = totp_credentials.c.last_used_step
        result = await self.conn.execute(
            totp_credentials.update()
            .where(totp_credentials.c.user_id == user_id, sa.or_(last.is_(None), last < step))
            .values(last_used_step=step)
        )
        return result.rowcount == 1

    async def spend_recovery_code(self, user_id: str, code_hash: bytes, now: datetime) -> bool:
        result = await self.conn.execute(
            recovery_codes.update()
            .where(
                recovery_codes.c.user_id == user_id,
                recovery_codes.c.code_hash == code_hash,
                recovery_codes.c.used_at.is_(None),
            )
            .values(used_at=now)
        )
        return result.rowcount == 1

    async def failures_since(self, user_id: str, since: datetime) -> list[datetime]:
        query = (
            sa.select(mfa_failures.c.failed_at)
            .where(mfa_failures.c.user_id == user_id, mfa_failures.c.failed_at > since)
            .order_by(mfa_failures.c.failed_at)
        )
        return list((await self.conn.execute(query)).scalars().all())

    async def record_failure(self, user_id: str, now: datetime, forget_before: datetime) -> None:
        await self.conn.execute(
            mfa_failures.delete().where(
                mfa_failures.c.user_id == user_id, mfa_failures.c.failed_at <= forget_before
            )
        )
        await self.conn.execute(mfa_failures.insert().values(user_id=user_id, failed_at=now))

    async def remove_two_factor(self, user_id: str) -> None:
        for table in (mfa_challenges, recovery_codes, totp_credentials):
            await self.conn.execute(table.delete().where(table.c.user_id == user_id))

    async def record_two_factor_changed(self, user_id: str, enabled: bool, now: datetime) -> None:
        query = sa.select(users.c.email, users.c.language).where(users.c.id == user_id)
        user = (await self.conn.execute(query)).one()
        await self.uow.emit(
            AUTH_USER_TWO_FACTOR_CHANGED.name,
            subject=user_id,
            data=TwoFactorChangedV1(
                user_id=user_id, enabled=enabled, changed_at=now, email=user.email, language=user.language
            ),
        )

    async def insert_challenge(
        self, record: ChallengeRecord, token_hash: bytes, created_at: datetime
    ) -> None:
        # The user's expired challenges go as a new one comes: the table stays small.
        await self.conn.execute(
            mfa_challenges.delete().where(
                mfa_challenges.c.user_id == record.user_id, mfa_challenges.c.expires_at <= created_at
            )
        )
        await self.conn.execute(
            mfa_challenges.insert().values(
                id=record.id,
                token_hash=token_hash,
                user_id=record.user_id,
                user_agent=record.user_agent,
                client_ip=record.client_ip,
                method=record.method,
                created_at=created_at,
                expires_at=record.expires_at,
                failed_attempts=record.failed_attempts,
            )
        )

    async def challenge_user(self, token_hash: bytes) -> str | None:
        query = sa.select(mfa_challenges.c.user_id).where(mfa_challenges.c.token_hash == token_hash)
        return (await self.conn.execute(query)).scalar_one_or_none()

    async def lock_challenge(self, token_hash: bytes) -> ChallengeRecord | None:
        query = sa.select(mfa_challenges).where(mfa_challenges.c.token_hash == token_hash).with_for_update()
        row = (await self.conn.execute(query)).first()
        if row is None:
            return None
        return ChallengeRecord(
            id=row.id,
            user_id=row.user_id,
            user_agent=row.user_agent,
            client_ip=row.client_ip,
            method=row.method,
            expires_at=row.expires_at,
            failed_attempts=row.failed_attempts,
            used_at=row.used_at,
        )

    async def fail_challenge(self, challenge_id: str) -> None:
        await self.conn.execute(
            mfa_challenges.update()
            .where(mfa_challenges.c.id == challenge_id)
            .values(failed_attempts=mfa_challenges.c.failed_attempts + 1)
        )

    async def spend_challenge(self, challenge_id: str, now: datetime) -> bool:
        result = await self.conn.execute(
            mfa_challenges.update()
            .where(mfa_challenges.c.id == challenge_id, mfa_challenges.c.used_at.is_(None))
            .values(used_at=now)
        )
        return result.rowcount == 1


class MfaDbStore:
    """`MfaStore` over the service database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[MfaTransaction]:
        async with self.db.transaction() as uow:
            yield MfaTransaction(uow)

    async def credential(self, user_id: str) -> TotpCredential | None:
        async with self.db.connect() as conn:
            row = (
                await conn.execute(sa.select(totp_credentials).where(totp_credentials.c.user_id == user_id))
            ).first()
        return _credential(row) if row else None


async def erase_two_factor(conn: AsyncConnection, user_id: str) -> None:
    """Account deletion: every 2FA row of the user goes (the secret, the recovery codes, the open
    challenges with their IP address and user agent, the failure records)."""
    for table in (mfa_challenges, mfa_failures, recovery_codes, totp_credentials):
        await conn.execute(table.delete().where(table.c.user_id == user_id))


async def two_factor_section(conn: AsyncConnection, user_id: str) -> dict[str, Any]:
    """The data export's 2FA section: on or off, since when, recovery codes left (no secrets)."""
    confirmed_at = (
        await conn.execute(
            sa.select(totp_credentials.c.confirmed_at).where(
                totp_credentials.c.user_id == user_id, totp_credentials.c.confirmed_at.is_not(None)
            )
        )
    ).scalar_one_or_none()
    left = 0
    if confirmed_at is not None:
        left = (
            await conn.execute(
                sa.select(sa.func.count())
                .select_from(recovery_codes)
                .where(recovery_codes.c.user_id == user_id, recovery_codes.c.used_at.is_(None))
            )
        ).scalar_one()
    return {
        "enabled": confirmed_at is not None,
        "enabledAt": confirmed_at.isoformat() if confirmed_at is not None else None,
        "recoveryCodesLeft": left,
    }
