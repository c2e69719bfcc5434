"""Where sessions sign in from, over a real database: country, city and device stored and listed,
`last_used_at` moving on refresh, and `auth.user.new_country_signed_in.v1` written with the session."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from parovoz.chassis.events.cloudevents import CloudEvent
from parovoz.services.auth.wiring import components
from tests.geoip import ALMATY_IP, BERLIN_IP, MOSCOW_IP, NOWHERE_IP, SAINT_PETERSBURG_IP
from tests.integration.auth.conftest import AuthHarness, BuildAuth, attributes

TOPIC = "auth.user.new_country_signed_in"
CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
APP_ANDROID = "Parovoz/1.4.0 (Android 14; Pixel 8)"


@pytest.fixture
async def auth(build_auth: BuildAuth, geoip_db: Path) -> AuthHarness:
    return await build_auth(env={"AUTH_GEOIP_DB": str(geoip_db)})


async def signed_up(auth: AuthHarness, name: str) -> str:
    response = await auth.register(f"{name}@example.com", name)
    assert response.status_code == 201, response.text
    return response.json()["data"]["id"]


async def login_from(auth: AuthHarness, login: str, ip: str, agent: str = CHROME_WINDOWS) -> dict:
    response = await auth.login(login, **{"X-Original-IP": ip, "User-Agent": agent})
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def new_country_events(auth: AuthHarness, user_id: str) -> list[CloudEvent]:
    query = sa.text("SELECT payload FROM outbox WHERE topic = :topic AND key = :key ORDER BY seq")
    async with auth.db.connect() as conn:
        rows = (await conn.execute(query, {"topic": TOPIC, "key": user_id})).all()
    return [CloudEvent.from_json(row.payload) for row in rows]


async def test_sessions_list_the_place_and_the_device(auth: AuthHarness) -> None:
    await signed_up(auth, "ann")
    moscow = await login_from(auth, "ann", MOSCOW_IP)
    berlin = await login_from(auth, "ann", BERLIN_IP, APP_ANDROID)
    nowhere = await login_from(auth, "ann", NOWHERE_IP, "")
    headers = {"Authorization": f"Bearer {moscow['attributes']['accessToken']}"}

    response = await auth.client.get("/api/v1/auth/sessions", headers=headers)
    assert response.status_code == 200, response.text
    listed = {s["id"]: s["attributes"] for s in response.json()["data"]}
    assert {k: listed[moscow["id"]][k] for k in ("device", "ip", "country", "city", "current")} == {
        "device": "Chrome on Windows",
        "ip": MOSCOW_IP,
        "country": "RU",
        "city": "Moscow",
        "current": True,
    }
    assert listed[moscow["id"]]["userAgent"] == CHROME_WINDOWS
    assert {k: listed[berlin["id"]][k] for k in ("device", "country", "city", "current")} == {
        "device": "Parovoz app on Android",
        "country": "DE",
        "city": "Berlin",
        "current": False,
    }
    assert {k: listed[nowhere["id"]][k] for k in ("device", "country", "city")} == {
        "device": None,
        "country": None,
        "city": None,
    }
    assert all(a["createdAt"] and a["lastUsedAt"] for a in listed.values())

    selected = await auth.client.get(
        "/api/v1/auth/sessions", params={"fields": "device,country,city"}, headers=headers
    )
    assert selected.status_code == 200, selected.text
    assert all(set(s["attributes"]) == {"device", "country", "city"} for s in selected.json()["data"])


async def test_without_a_database_places_are_unknown(build_auth: BuildAuth) -> None:
    plain = await build_auth()
    await signed_up(plain, "bob")
    session = await login_from(plain, "bob", BERLIN_IP)
    response = await plain.client.get(
        "/api/v1/auth/sessions", headers={"Authorization": f"Bearer {session['attributes']['accessToken']}"}
    )
    (only,) = response.json()["data"]
    assert only["attributes"]["country"] is None and only["attributes"]["city"] is None
    assert only["attributes"]["device"] == "Chrome on Windows"


async def test_last_used_at_moves_on_refresh(auth: AuthHarness) -> None:
    await signed_up(auth, "cid")
    session = await login_from(auth, "cid", MOSCOW_IP)
    flows = components(auth.ctx).flows
    started = flows.clock()
    flows.clock = lambda: started + timedelta(hours=5)
    refreshed = await auth.refresh(session["attributes"]["refreshToken"])
    assert refreshed.status_code == 200, refreshed.text
    response = await auth.client.get(
        "/api/v1/auth/sessions",
        headers={"Authorization": f"Bearer {attributes(refreshed)['accessToken']}"},
    )
    (only,) = response.json()["data"]
    assert only["attributes"]["lastUsedAt"] != only["attributes"]["createdAt"]
    async with auth.db.connect() as conn:
        row = (
            await conn.execute(
                sa.text("SELECT created_at, last_used_at FROM sessions WHERE id = :id"), {"id": session["id"]}
            )
        ).one()
    assert row.last_used_at - row.created_at >= timedelta(hours=4)


async def test_a_new_country_is_announced_once_with_the_session(auth: AuthHarness) -> None:
    user_id = await signed_up(auth, "dan")
    await login_from(auth, "dan", MOSCOW_IP)  # the first located sign-in: no news
    await login_from(auth, "dan", SAINT_PETERSBURG_IP)  # another city, same country
    await login_from(auth, "dan", NOWHERE_IP)  # unknown country: says nothing
    assert await new_country_events(auth, user_id) == []

    berlin = await login_from(auth, "dan", BERLIN_IP, APP_ANDROID)
    (event,) = await new_country_events(auth, user_id)
    assert event.subject == user_id and event.type == "com.parovoz.auth.user.new_country_signed_in.v1"
    data = event.data
    assert {k: data[k] for k in ("userId", "email", "language", "sessionId", "country", "city", "ip")} == {
        "userId": user_id,
        "email": "dan@example.com",
        "language": "ru",
        "sessionId": berlin["id"],
        "country": "DE",
        "city": "Berlin",
        "ip": BERLIN_IP,
    }
    assert data["device"] == "Parovoz app on Android" and data["signedInAt"]

    await login_from(auth, "dan", BERLIN_IP)  # DE is known now
    await login_from(auth, "dan", MOSCOW_IP)
    assert len(await new_country_events(auth, user_id)) == 1
    await login_from(auth, "dan", ALMATY_IP)  # yet another country: news again
    assert [e.data["country"] for e in await new_country_events(auth, user_id)] == ["DE", "KZ"]


async def test_the_first_ever_sign_in_announces_nothing(auth: AuthHarness) -> None:
    user_id = await signed_up(auth, "eve")
    await login_from(auth, "eve", BERLIN_IP)
    assert await new_country_events(auth, user_id) == []


async def test_simultaneous_sign_ins_from_a_new_country_announce_it_once(auth: AuthHarness) -> None:
    user_id = await signed_up(auth, "fay")
    await login_from(auth, "fay", MOSCOW_IP)
    flows = components(auth.ctx).flows
    user = await flows.user(user_id)
    # straight to the session (no password hashing in between to space the sign-ins out)
    await asyncio.gather(
        *(
            flows.start_session(user, user_agent=None, client_ip=ALMATY_IP, method="password")
            for _ in range(6)
        )
    )
    assert [e.data["country"] for e in await new_country_events(auth, user_id)] == ["KZ"]
