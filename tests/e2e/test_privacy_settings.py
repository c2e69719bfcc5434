"""Privacy, settings and consents end to end through the gateway: a second user and staff (the
demo admin) read a private profile, the language changes, sign-up's consents are listed."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.e2e.people import admin, eventually, signed_up


async def test_privacy_is_honoured_for_others_and_staff(
    gateway_client: Callable[..., httpx.AsyncClient],
) -> None:
    async with gateway_client() as client:
        owner = await signed_up(client)
        other = await signed_up(client)
        r = await client.patch(
            "/api/v1/users/me", headers=owner.auth, json={"bio": "только для своих", "country": "RU"}
        )
        assert r.status_code == 200, r.text

        r = await client.get("/api/v1/users/me/privacy", headers=owner.auth)
        assert r.status_code == 200, r.text
        assert r.json()["data"]["type"] == "privacy-settings"
        r = await client.patch(
            "/api/v1/users/me/privacy",
            headers={**owner.auth, "If-Match": r.headers["etag"]},
            json={"visibility": "private", "showLibrary": False},
        )
        assert r.status_code == 200, r.text
        assert r.json()["data"]["attributes"]["visibility"] == "private"

        profile_path = f"/api/v1/users/{owner.id}"
        for viewer in ({}, other.auth):
            r = await client.get(profile_path, headers=viewer)
            assert r.status_code == 200, r.text
            assert r.json()["data"]["attributes"] == {
                "username": owner.username,
                "displayName": owner.username,
                "avatarUrl": None,
                "visibility": "private",
            }
        staff = await admin(client)
        for viewer in (staff, owner.auth):
            r = await client.get(profile_path, headers=viewer)
            attributes = r.json()["data"]["attributes"]
            assert (attributes["bio"], attributes["country"]) == ("только для своих", "RU"), viewer

        r = await client.patch("/api/v1/users/me/privacy", headers=owner.auth, json={"visibility": "public"})
        assert r.status_code == 200
        r = await client.get(profile_path, headers=other.auth)
        assert r.json()["data"]["attributes"]["bio"] == "только для своих"


async def test_settings_language_and_notifications(gateway_client: Callable[..., httpx.AsyncClient]) -> None:
    async with gateway_client() as client:
        person = await signed_up(client)
        r = await client.get("/api/v1/users/me/settings", headers=person.auth)
        assert r.status_code == 200, r.text
        assert r.json()["data"]["attributes"]["language"] == "ru"
        r = await client.patch(
            "/api/v1/users/me/settings",
            headers=person.auth,
            json={"language": "en", "notifications": {"email": {"marketing": True}}},
        )
        assert r.status_code == 200, r.text
        attributes = r.json()["data"]["attributes"]
        assert attributes["language"] == "en" and attributes["notifications"]["email"]["marketing"] is True
        r = await client.get("/api/v1/users/me", headers=person.auth)
        assert r.json()["data"]["attributes"]["language"] == "en"

        r = await client.patch(
            "/api/v1/users/me/settings",
            headers={**person.auth, "Accept-Language": "en"},
            json={"notifications": {"email": {"security": False}}},
        )
        assert r.status_code == 422
        error = r.json()["errors"][0]
        assert error["code"] == "SECURITY_NOTIFICATIONS_REQUIRED"
        assert error["source"]["pointer"] == "/notifications/email/security"


async def test_consents_after_sign_up_and_marketing(gateway_client: Callable[..., httpx.AsyncClient]) -> None:
    async with gateway_client() as client:
        person = await signed_up(client)

        async def consents() -> list[dict] | None:
            r = await client.get("/api/v1/users/me/consents", headers=person.auth)
            assert r.status_code == 200, r.text
            return r.json()["data"] or None

        listed = await eventually(consents, "consents listed")
        purposes = {c["attributes"]["purpose"]: c["attributes"] for c in listed}
        assert set(purposes) == {"terms", "privacy"}
        assert all(c["active"] and c["version"] and c["givenAt"] for c in purposes.values())
        # the gateway's client address reached Auth and then Account
        assert purposes["terms"]["ip"].startswith("198.51.100.")

        r = await client.put("/api/v1/users/me/consents/marketing", headers=person.auth)
        assert r.status_code == 200, r.text
        assert r.json()["data"]["attributes"]["active"] is True
        r = await client.delete("/api/v1/users/me/consents/marketing", headers=person.auth)
        assert r.status_code == 204
        r = await client.get("/api/v1/users/me/consents?sort=purpose", headers=person.auth)
        marketing = r.json()["data"][0]["attributes"]
        assert marketing["purpose"] == "marketing" and marketing["withdrawnAt"] is not None
