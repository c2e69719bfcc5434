"""The Account service in process over a fresh PostgreSQL database, with tokens from a test key.

Registrations reach it the way they do in production: a CloudEvent record handed to the chassis
`EventConsumer` (inbox claim + handler in one transaction), just without a broker in between.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from parovoz.chassis.config import Settings
from parovoz.chassis.db import Database
from parovoz.chassis.db.migrate import migrate
from parovoz.chassis.events.brokers import Record
from parovoz.chassis.events.cloudevents import CloudEvent, new_event
from parovoz.chassis.events.consumer import EventConsumer
from parovoz.chassis.rest.app import create_service_app
from parovoz.chassis.security.keys import SigningKey
from parovoz.chassis.security.ratelimit import MemoryRateLimiter
from parovoz.chassis.security.tokens import JwksTokenVerifier, TokenIssuer, local_jwks_source
from parovoz.chassis.service import ServiceContext
from parovoz.services.account import SPEC


@pytest.fixture(scope="session")
def signing_key() -> SigningKey:
    return SigningKey.generate()


@dataclass
class AccountHarness:
    db: Database
    ctx: ServiceContext
    client: httpx.AsyncClient
    issuer: TokenIssuer
    consumer: EventConsumer
    _offset: int = field(default=0)

    def registration(
        self, *, user_id: str | None = None, username: str = "ivan", language: str = "ru"
    ) -> CloudEvent:
        """An `auth.user.registered.v1` event as Auth would publish it."""
        user_id = user_id or str(uuid.uuid4())
        return new_event(
            "auth.user.registered.v1",
            subject=user_id,
            data={
                "userId": user_id,
                "email": f"{username}@example.ru",
                "username": username,
                "roles": ["user"],
                "registeredAt": datetime.now(UTC).isoformat(),
                "language": language,
            },
            service="auth",
        )

    async def deliver(self, event: CloudEvent) -> None:
        """Hand `event` to the consumer as the next record of its topic."""
        self._offset += 1
        record = Record(
            topic=event.topic, key=event.subject.encode(), value=event.to_json(), offset=self._offset
        )
        await self.consumer.handle_record(record)

    async def register(self, username: str = "ivan", language: str = "ru") -> str:
        event = self.registration(username=username, language=language)
        await self.deliver(event)
        return event.subject

    def auth(self, user_id: str, roles: Iterable[str] = ("user",)) -> dict[str, str]:
        token = self.issuer.issue(user_id, roles, session_id=str(uuid.uuid4()), ttl_seconds=600).token
        return {"Authorization": f"Bearer {token}"}

    async def sql(self, statement: str, **params: Any) -> list[Any]:
        import sqlalchemy as sa

        async with self.db.transaction() as uow:
            result = await uow.conn.execute(sa.text(statement), params)
            return list(result) if result.returns_rows else []


@pytest.fixture
async def account(database_url: str, signing_key: SigningKey) -> AsyncIterator[AccountHarness]:
    db = Database(database_url, service="account")
    await migrate(db, SPEC.migrations)
    verifier = JwksTokenVerifier(local_jwks_source([signing_key]))
    ctx = ServiceContext(
        name="account",
        settings=Settings.from_env({}),
        db=db,
        broker=None,  # type: ignore[arg-type]  # nothing here publishes (no DLQ in these tests)
        tokens=verifier,
        limiter=MemoryRateLimiter(),
    )

    async def ready() -> bool:
        return await db.ping()

    app = create_service_app(SPEC, ctx, ready)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://account")
    consumer = EventConsumer(ctx, SPEC.subscriptions, max_attempts=1)
    try:
        yield AccountHarness(db, ctx, client, TokenIssuer(signing_key), consumer)
    finally:
        await client.aclose()
        await verifier.close()
        await db.dispose()
