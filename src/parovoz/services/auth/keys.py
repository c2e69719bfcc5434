"""The signing keys: kept in the database, so every replica signs with the same key and the JWKS
is the same wherever it is asked for."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from parovoz.chassis.db import Database
from parovoz.chassis.security.tokens import IssuedToken, SigningKey, TokenIssuer, jwks
from parovoz.services.auth.domain.users import User
from parovoz.services.auth.store import signing_keys

# Any number works as long as it is this service's own: it serialises key creation across replicas.
_KEY_LOCK = 0x5041_524F_4155_5448 & 0x7FFF_FFFF_FFFF_FFFF  # "PAROAUTH"
# A retired key stays published this long: longer than any access token it signed can live.
RETIRED_KEY_GRACE = timedelta(days=1)
# How long a replica trusts its copy of the key table (a rotation elsewhere shows up within it).
CACHE_SECONDS = 60.0


class KeyRing:
    """The current signing key and the published ones, read from the database and cached."""

    def __init__(self, db: Database, *, access_ttl: int) -> None:
        self.db = db
        self.access_ttl = access_ttl
        self._keys: list[SigningKey] = []  # newest active first, then retired but published
        self._loaded_at = -float("inf")
        self._lock = asyncio.Lock()

    async def ensure(self) -> SigningKey:
        """Make sure an active key exists (create one when none does); safe across replicas."""
        async with self.db.transaction() as uow:
            # Replicas starting at once queue on this lock; the first creates, the others see it.
            await uow.conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_KEY_LOCK)))
            active = (
                await uow.conn.execute(
                    sa.select(signing_keys.c.kid).where(signing_keys.c.retired_at.is_(None)).limit(1)
                )
            ).first()
            if active is None:
                key = await asyncio.to_thread(SigningKey.generate)
                await uow.conn.execute(signing_keys.insert().values(kid=key.kid, private_pem=key.to_pem()))
        await self.reload()
        return self._keys[0]

    async def reload(self) -> None:
        query = (
            sa.select(signing_keys.c.private_pem, signing_keys.c.retired_at)
            .where(
                sa.or_(
                    signing_keys.c.retired_at.is_(None),
                    signing_keys.c.retired_at > sa.func.now() - RETIRED_KEY_GRACE,
                )
            )
            # active keys first (NULL retired_at sorts first), newest first
            .order_by(signing_keys.c.retired_at.desc().nulls_first(), signing_keys.c.created_at.desc())
        )
        async with self.db.connect() as conn:
            rows = (await conn.execute(query)).all()
        self._keys = [SigningKey.from_pem(row.private_pem) for row in rows]
        self._loaded_at = time.monotonic()

    async def keys(self) -> list[SigningKey]:
        if time.monotonic() - self._loaded_at > CACHE_SECONDS or not self._keys:
            async with self._lock:
                if time.monotonic() - self._loaded_at > CACHE_SECONDS or not self._keys:
                    await self.reload()
                    if not self._keys:
                        await self.ensure()
        return self._keys

    async def current(self) -> SigningKey:
        return (await self.keys())[0]

    async def jwks(self) -> dict[str, Any]:
        return jwks(await self.keys())

    async def issue_access(self, user: User, session_id: str) -> IssuedToken:
        issuer = TokenIssuer(await self.current())
        return issuer.issue(user.id, user.roles, session_id, self.access_ttl, language=user.language)
