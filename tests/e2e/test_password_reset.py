"""E-mail verification and password reset end to end through the gateway; the tokens are read
from Auth's outbox, where the mails' events are written."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import sqlalchemy as sa

from parovoz.chassis.events.cloudevents import CloudEvent
from parovoz.runtime.embedded import EmbeddedPlatform
from tests.e2e.flows import new_user


async def _mailed_token(platform: EmbeddedPlatform, topic: str, user_id: str) -> str:
    auth = next(host for host in platform.hosts if host.spec.name == "auth")
    query = sa.text("SELECT payload FROM outbox WHERE topic = :topic AND key = :key ORDER BY seq DESC")
    async with auth.ctx.db.connect() as conn:
        row = (await conn.execute(query, {"topic": topic, "key": user_id})).first()
    assert row is not None, f"no {topic} event for {user_id}"
    return CloudEvent.from_json(row.payload).data["token"]


async def test_verification_and_password_reset_through_the_gateway(
    gateway_client: Callable[..., httpx.AsyncClient], embedded_platform: EmbeddedPlatform
) -> None:
    async with gateway_client() as client:
        user = new_user()
        r = await client.post("/api/v1/auth/register", json=user)
        assert r.status_code == 201, r.text
        user_id = r.json()["data"]["id"]

        verify = await _mailed_token(embedded_platform, "auth.email.verification.requested", user_id)
        assert (await client.post("/api/v1/auth/email/verify", json={"token": verify})).status_code == 204
        again = await client.post("/api/v1/auth/email/verify", json={"token": verify})
        assert again.status_code == 400 and again.json()["errors"][0]["code"] == "INVALID_ONE_TIME_TOKEN"

        credentials = {"login": user["email"], "password": user["password"]}
        old = (await client.post("/api/v1/auth/login", json=credentials)).json()["data"]["attributes"]

        known = await client.post("/api/v1/auth/password/forgot", json={"email": user["email"]})
        unknown = await client.post("/api/v1/auth/password/forgot", json={"email": "ghost@example.ru"})
        assert known.status_code == unknown.status_code == 202
        assert known.content == unknown.content == b""

        token = await _mailed_token(embedded_platform, "auth.password.reset.requested", user_id)
        new_password = "reset-secret-42"
        body = {"token": token, "newPassword": new_password}
        assert (await client.post("/api/v1/auth/password/reset", json=body)).status_code == 204
        reused = await client.post(
            "/api/v1/auth/password/reset", json={**body, "newPassword": "x-other-pw-9"}
        )
        assert reused.status_code == 400 and reused.json()["errors"][0]["code"] == "INVALID_ONE_TIME_TOKEN"

        assert (await client.post("/api/v1/auth/login", json=credentials)).status_code == 401
        r = await client.post("/api/v1/auth/refresh-token", json={"refreshToken": old["refreshToken"]})
        assert r.status_code == 401
        r = await client.post("/api/v1/auth/login", json={**credentials, "password": new_password})
        assert r.status_code == 200, r.text


async def test_an_expired_reset_token_is_refused_and_changes_nothing(
    gateway_client: Callable[..., httpx.AsyncClient], embedded_platform: EmbeddedPlatform
) -> None:
    async with gateway_client() as client:
        user = new_user()
        user_id = (await client.post("/api/v1/auth/register", json=user)).json()["data"]["id"]
        credentials = {"login": user["email"], "password": user["password"]}
        session = (await client.post("/api/v1/auth/login", json=credentials)).json()["data"]["attributes"]
        assert (
            await client.post("/api/v1/auth/password/forgot", json={"email": user["email"]})
        ).status_code == 202
        token = await _mailed_token(embedded_platform, "auth.password.reset.requested", user_id)

        # The mail sat unread past its validity: age the token in Auth's own database.
        auth = next(host for host in embedded_platform.hosts if host.spec.name == "auth")
        async with auth.ctx.db.transaction() as uow:
            aged = await uow.conn.execute(
                sa.text(
                    "UPDATE one_time_tokens SET expires_at = now() - interval '1 second' "
                    "WHERE user_id = :user_id AND purpose = 'reset_password'"
                ),
                {"user_id": user_id},
            )
        assert aged.rowcount == 1

        r = await client.post(
            "/api/v1/auth/password/reset", json={"token": token, "newPassword": "late-secret-77"}
        )
        assert r.status_code == 400 and r.json()["errors"][0]["code"] == "INVALID_ONE_TIME_TOKEN"
        # Nothing changed: the old password still signs in and the old session still refreshes.
        assert (await client.post("/api/v1/auth/login", json=credentials)).status_code == 200
        refreshed = await client.post(
            "/api/v1/auth/refresh-token", json={"refreshToken": session["refreshToken"]}
        )
        assert refreshed.status_code == 200, refreshed.text
