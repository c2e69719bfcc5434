"""Account deletion end to end: a wrong password changes nothing; the right one deletes, Account
emits `account.user.deleted.v1`, Auth erases the credentials (sign-in fails like for an unknown
user, the refresh token dies) and the profile answers 404."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import sqlalchemy as sa

from parovoz.chassis.events.cloudevents import CloudEvent
from parovoz.runtime.embedded import EmbeddedPlatform
from tests.e2e.people import eventually, signed_up


async def _deleted_events(platform: EmbeddedPlatform, user_id: str) -> list[CloudEvent]:
    (account,) = [host for host in platform.hosts if host.spec.name == "account"]
    async with account.ctx.db.connect() as conn:
        rows = await conn.execute(
            sa.text("SELECT payload FROM outbox WHERE topic = 'account.user.deleted' AND key = :key"),
            {"key": user_id},
        )
        return [CloudEvent.from_json(row.payload) for row in rows]


async def test_deletion_through_the_platform(
    embedded_platform: EmbeddedPlatform, gateway_client: Callable[..., httpx.AsyncClient]
) -> None:
    async with gateway_client() as client:
        person = await signed_up(client)
        credentials = {"login": person.email, "password": person.password}

        r = await client.request(
            "DELETE", "/api/v1/users/me", headers=person.auth, json={"password": "not-my-password"}
        )
        assert r.status_code == 401, r.text
        assert r.json()["errors"][0]["code"] == "INVALID_CURRENT_PASSWORD"
        assert (await client.get("/api/v1/users/me", headers=person.auth)).status_code == 200
        assert (await client.post("/api/v1/auth/login", json=credentials)).status_code == 200
        assert await _deleted_events(embedded_platform, person.id) == []

        r = await client.request(
            "DELETE", "/api/v1/users/me", headers=person.auth, json={"password": person.password}
        )
        assert r.status_code == 204, r.text

        events = await _deleted_events(embedded_platform, person.id)
        assert len(events) == 1 and events[0].data["userId"] == person.id

        for path in ("/api/v1/users/me", f"/api/v1/users/{person.id}"):
            r = await client.get(path, headers=person.auth)
            assert r.status_code == 404 and r.json()["errors"][0]["code"] == "ACCOUNT_NOT_FOUND", path

        async def refused() -> httpx.Response | None:
            r = await client.post("/api/v1/auth/login", json=credentials)
            return r if r.status_code == 401 else None

        r = await eventually(refused, "Auth erases the user")
        assert r.json()["errors"][0]["code"] == "INVALID_CREDENTIALS"
        r = await client.post(
            "/api/v1/auth/login", json={"login": person.username, "password": person.password}
        )
        assert r.status_code == 401 and r.json()["errors"][0]["code"] == "INVALID_CREDENTIALS"
        r = await client.post("/api/v1/auth/refresh-token", json={"refreshToken": person.refresh})
        assert r.status_code == 401, r.text
