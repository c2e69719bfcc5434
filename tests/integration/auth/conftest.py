"""Auth built in process on a fresh database: the app over ASGI, the context, the database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from parovoz.chassis.config import Settings
from parovoz.chassis.db import Database
from parovoz.chassis.db.migrate import migrate
from parovoz.chassis.rest.app import create_service_app
from parovoz.chassis.security.ratelimit import MemoryRateLimiter
from parovoz.chassis.service import ServiceContext
from parovoz.services.auth import SPEC
from parovoz.services.auth.wiring import components

PASSWORD = "correct-horse-1"


@dataclass
class AuthHarness:
    ctx: ServiceContext
    db: Database
    client: httpx.AsyncClient

    async def count(self, table: str) -> int:
        async with self.db.connect() as conn:
            return (await conn.execute(sa.text(f"SELECT count(*) FROM {table}"))).scalar_one()

    async def register(self, email: str, username: str, password: str = PASSWORD) -> httpx.Response:
        return await self.client.post(
            "/api/v1/auth/register",
            json={"email": email, "username": username, "password": password, "acceptTerms": True},
        )

    async def login(self, login: str, password: str = PASSWORD, **headers: str) -> httpx.Response:
        return await self.client.post(
            "/api/v1/auth/login", json={"login": login, "password": password}, headers=headers
        )

    async def refresh(self, token: str) -> httpx.Response:
        return await self.client.post("/api/v1/auth/refresh-token", json={"refreshToken": token})


BuildAuth = Callable[..., Awaitable[AuthHarness]]


@pytest.fixture
async def build_auth(database_url: str) -> AsyncIterator[BuildAuth]:
    """`await build_auth(env={...})`: one Auth on the test's database (several share it)."""
    made: list[AuthHarness] = []

    async def build(env: Mapping[str, str] | None = None, *, start: bool = True) -> AuthHarness:
        db = Database(database_url, service="auth")
        await migrate(db, SPEC.migrations)
        ctx = ServiceContext(
            name="auth",
            settings=Settings.from_env({f"PAROVOZ_{k}": v for k, v in (env or {}).items()}),
            db=db,
            broker=None,  # type: ignore[arg-type]  (events stay in the outbox: the relay is not under test)
            tokens=None,  # type: ignore[arg-type]  (set below: Auth's own key ring feeds it)
            limiter=MemoryRateLimiter(),
        )
        ctx.tokens = components(ctx).verifier
        if start:
            await SPEC.on_start(ctx)  # type: ignore[misc]

        async def ready() -> bool:
            return await db.ping()

        app = create_service_app(SPEC, ctx, ready)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://auth.test")
        harness = AuthHarness(ctx, db, client)
        made.append(harness)
        return harness

    yield build
    for harness in made:
        await harness.client.aclose()
        components(harness.ctx).passwords.close()
        await harness.db.dispose()


@pytest.fixture
async def auth(build_auth: BuildAuth) -> AuthHarness:
    return await build_auth()


def attributes(response: httpx.Response) -> dict[str, Any]:
    return response.json()["data"]["attributes"]


def error_codes(response: httpx.Response) -> list[str]:
    return [e["code"] for e in response.json()["errors"]]
