"""Every session revocation writes `auth.user.sessions.revoked.v1` with it; Auth's own consumer of
that event puts the sessions on the revocation list, and a restarted Auth restores the recent ones."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from parovoz.chassis.events.cloudevents import CloudEvent
from parovoz.chassis.security.tokens import DEFAULT_LEEWAY
from parovoz.services.auth.revocations import on_sessions_revoked
from tests.integration.auth.conftest import PASSWORD, AuthHarness, BuildAuth

TOPIC = "auth.user.sessions.revoked"
NEW_PASSWORD = "brand-new-secret-7"


async def revoked_events(auth: AuthHarness) -> list[CloudEvent]:
    query = sa.text("SELECT payload FROM outbox WHERE topic = :topic ORDER BY seq")
    async with auth.db.connect() as conn:
        rows = (await conn.execute(query, {"topic": TOPIC})).all()
    return [CloudEvent.from_json(row.payload) for row in rows]


async def signed_in_twice(auth: AuthHarness) -> tuple[str, dict, dict]:
    registered = await auth.register("ann@example.com", "ann")
    assert registered.status_code == 201, registered.text
    first = (await auth.login("ann")).json()["data"]
    second = (await auth.login("ann")).json()["data"]
    return registered.json()["data"]["id"], first, second


def bearer(login: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {login['attributes']['accessToken']}"}


async def test_logout_emits_the_ended_session_once(auth: AuthHarness) -> None:
    user_id, first, _second = await signed_in_twice(auth)
    refresh = first["attributes"]["refreshToken"]
    assert (await auth.client.post("/api/v1/auth/logout", json={"refreshToken": refresh})).status_code == 204
    [event] = await revoked_events(auth)
    assert event.type == "com.parovoz.auth.user.sessions.revoked.v1" and event.subject == user_id
    assert event.data["userId"] == user_id
    assert event.data["sessionIds"] == [first["id"]]
    assert event.data["reason"] == "logout"
    revoked_at = datetime.fromisoformat(event.data["revokedAt"].replace("Z", "+00:00"))
    assert abs(datetime.now(UTC) - revoked_at) < timedelta(seconds=10)

    # the same session again: nothing new ended, nothing new said
    assert (await auth.client.post("/api/v1/auth/logout", json={"refreshToken": refresh})).status_code == 204
    assert len(await revoked_events(auth)) == 1


async def test_password_change_and_user_revocation_emit_the_sessions_they_end(auth: AuthHarness) -> None:
    user_id, first, second = await signed_in_twice(auth)
    third = (await auth.login("ann")).json()["data"]
    r = await auth.client.delete(f"/api/v1/auth/sessions/{first['id']}", headers=bearer(second))
    assert r.status_code == 204, r.text
    r = await auth.client.post(
        "/api/v1/auth/password/change",
        json={"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD},
        headers=bearer(second),
    )
    assert r.status_code == 204, r.text
    by_user, by_change = await revoked_events(auth)
    assert (by_user.data["sessionIds"], by_user.data["reason"]) == ([first["id"]], "revoked_by_user")
    # the caller's own session stays; only the others end
    assert (by_change.data["sessionIds"], by_change.data["reason"]) == ([third["id"]], "password_changed")
    assert by_change.data["userId"] == user_id


async def test_the_consumer_puts_the_sessions_on_the_list_and_the_verifier_refuses_them(
    auth: AuthHarness,
) -> None:
    _user_id, first, second = await signed_in_twice(auth)
    assert (await auth.client.get("/api/v1/auth/sessions", headers=bearer(first))).status_code == 200
    r = await auth.client.delete(f"/api/v1/auth/sessions/{first['id']}", headers=bearer(second))
    assert r.status_code == 204
    [event] = await revoked_events(auth)
    assert not auth.ctx.revocations.is_revoked(first["id"])  # the event is what feeds the list

    async with auth.db.transaction() as uow:
        await on_sessions_revoked(auth.ctx, uow, event)
    async with auth.db.transaction() as uow:  # a redelivery changes nothing
        await on_sessions_revoked(auth.ctx, uow, event)
    revoked_at = datetime.fromisoformat(event.data["revokedAt"].replace("Z", "+00:00")).timestamp()
    expiry = revoked_at + 900 + DEFAULT_LEEWAY
    assert auth.ctx.revocations.is_revoked(first["id"], expiry - 1)
    assert not auth.ctx.revocations.is_revoked(first["id"], expiry + 1)
    assert not auth.ctx.revocations.is_revoked(second["id"])

    # the token of the ended session is refused by the service's verifier, the other one works
    refused = await auth.client.get("/api/v1/auth/sessions", headers=bearer(first))
    assert refused.status_code == 401 and refused.json()["errors"][0]["code"] == "INVALID_TOKEN"
    assert "session ended" in refused.headers["www-authenticate"]
    assert (await auth.client.get("/api/v1/auth/sessions", headers=bearer(second))).status_code == 200


async def test_a_restarted_auth_restores_the_recent_revocations(build_auth: BuildAuth) -> None:
    auth = await build_auth()
    _user_id, first, second = await signed_in_twice(auth)
    refresh = first["attributes"]["refreshToken"]
    assert (await auth.client.post("/api/v1/auth/logout", json={"refreshToken": refresh})).status_code == 204
    refresh = second["attributes"]["refreshToken"]
    assert (await auth.client.post("/api/v1/auth/logout", json={"refreshToken": refresh})).status_code == 204
    # the second ended long ago: its tokens are expired anyway, nothing to restore
    async with auth.db.transaction() as uow:
        await uow.conn.execute(
            sa.text("UPDATE sessions SET revoked_at = now() - interval '1 hour' WHERE id = :id"),
            {"id": second["id"]},
        )

    restarted = await build_auth()  # a fresh process: an empty list, filled at start
    assert restarted.ctx.revocations is not auth.ctx.revocations
    assert restarted.ctx.revocations.is_revoked(first["id"])
    assert not restarted.ctx.revocations.is_revoked(second["id"])
    assert restarted.ctx.revocations.is_revoked(first["id"], time.time() + 900)
