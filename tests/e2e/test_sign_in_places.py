"""Where users sign in from, end to end on a platform of its own with the generated GeoIP database:
the session list through the gateway shows country, city and device, and the first sign-in from a
new country writes `auth.user.new_country_signed_in.v1` (published from the outbox), once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from parovoz.chassis.events.cloudevents import CloudEvent
from parovoz.runtime.embedded import EmbeddedPlatform
from tests.e2e.flows import new_user
from tests.e2e.platforms import platform_with
from tests.geoip import BERLIN_IP, MOSCOW_IP, SAINT_PETERSBURG_IP

TOPIC = "auth.user.new_country_signed_in"
FIREFOX_LINUX = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
APP_ANDROID = "Parovoz/1.4.0 (Android 14; Pixel 8)"


@pytest.fixture(scope="module")
async def geo_platform(geoip_db: Path) -> AsyncIterator[EmbeddedPlatform]:
    async with platform_with({"PAROVOZ_AUTH_GEOIP_DB": str(geoip_db)}) as platform:
        yield platform


def client_from(platform: EmbeddedPlatform, ip: str, agent: str = FIREFOX_LINUX) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=platform.gateway, client=(ip, 40000))
    return httpx.AsyncClient(
        transport=transport, base_url="http://parovoz.test", timeout=30, headers={"User-Agent": agent}
    )


def auth_ctx(platform: EmbeddedPlatform) -> Any:
    return next(host for host in platform.hosts if host.spec.name == "auth").ctx


async def sign_in(
    platform: EmbeddedPlatform, user: dict[str, Any], ip: str, agent: str = FIREFOX_LINUX
) -> dict:
    async with client_from(platform, ip, agent) as client:
        r = await client.post(
            "/api/v1/auth/login", json={"login": user["email"], "password": user["password"]}
        )
    assert r.status_code == 200, r.text
    return r.json()["data"]


async def outbox_events(platform: EmbeddedPlatform, user_id: str) -> list[tuple[CloudEvent, bool]]:
    """The user's new-country events in Auth's outbox, with whether the relay has published each."""
    query = sa.text(
        "SELECT payload, published_at IS NOT NULL AS published FROM outbox "
        "WHERE topic = :topic AND key = :key ORDER BY seq"
    )
    async with auth_ctx(platform).db.connect() as conn:
        rows = (await conn.execute(query, {"topic": TOPIC, "key": user_id})).all()
    return [(CloudEvent.from_json(row.payload), row.published) for row in rows]


async def test_sessions_show_where_and_on_what_through_the_gateway(geo_platform: EmbeddedPlatform) -> None:
    user = new_user()
    async with client_from(geo_platform, MOSCOW_IP) as client:
        assert (await client.post("/api/v1/auth/register", json=user)).status_code == 201
    moscow = await sign_in(geo_platform, user, MOSCOW_IP)
    piter = await sign_in(geo_platform, user, SAINT_PETERSBURG_IP, APP_ANDROID)

    async with client_from(geo_platform, MOSCOW_IP) as client:
        r = await client.get(
            "/api/v1/auth/sessions",
            headers={"Authorization": f"Bearer {moscow['attributes']['accessToken']}"},
        )
    assert r.status_code == 200, r.text
    listed = {s["id"]: s["attributes"] for s in r.json()["data"]}
    assert {k: listed[moscow["id"]][k] for k in ("device", "ip", "country", "city", "current")} == {
        "device": "Firefox on Linux",
        "ip": MOSCOW_IP,
        "country": "RU",
        "city": "Moscow",
        "current": True,
    }
    assert {k: listed[piter["id"]][k] for k in ("device", "ip", "country", "city", "current")} == {
        "device": "Parovoz app on Android",
        "ip": SAINT_PETERSBURG_IP,
        "country": "RU",
        "city": "Saint Petersburg",
        "current": False,
    }


async def test_first_sign_in_from_a_new_country_is_announced_once(geo_platform: EmbeddedPlatform) -> None:
    user = new_user()
    async with client_from(geo_platform, MOSCOW_IP) as client:
        r = await client.post("/api/v1/auth/register", json=user)
    assert r.status_code == 201, r.text
    user_id = r.json()["data"]["id"]
    await sign_in(geo_platform, user, MOSCOW_IP)
    await sign_in(geo_platform, user, SAINT_PETERSBURG_IP)
    assert await outbox_events(geo_platform, user_id) == []

    berlin = await sign_in(geo_platform, user, BERLIN_IP, APP_ANDROID)
    deadline = time.monotonic() + 20
    while True:
        events = await outbox_events(geo_platform, user_id)
        assert len(events) == 1
        (event, published) = events[0]
        if published:
            break  # the relay handed it to the event log: Notification will get it
        assert time.monotonic() < deadline, "the event was never published"
        await asyncio.sleep(0.1)
    assert {
        k: event.data[k] for k in ("userId", "email", "sessionId", "country", "city", "ip", "device")
    } == {
        "userId": user_id,
        "email": user["email"],
        "sessionId": berlin["id"],
        "country": "DE",
        "city": "Berlin",
        "ip": BERLIN_IP,
        "device": "Parovoz app on Android",
    }

    await sign_in(geo_platform, user, BERLIN_IP)  # the second time from DE: nothing new
    assert len(await outbox_events(geo_platform, user_id)) == 1
