"""Sessions and password change end to end through the gateway."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.e2e.flows import new_user


async def test_sessions_and_password_change_through_the_gateway(
    gateway_client: Callable[..., httpx.AsyncClient],
) -> None:
    async with gateway_client() as client:
        user = new_user()
        assert (await client.post("/api/v1/auth/register", json=user)).status_code == 201
        credentials = {"login": user["email"], "password": user["password"]}
        first = (await client.post("/api/v1/auth/login", json=credentials)).json()["data"]
        second = (await client.post("/api/v1/auth/login", json=credentials)).json()["data"]
        auth = {"Authorization": f"Bearer {second['attributes']['accessToken']}"}

        r = await client.get("/api/v1/auth/sessions", headers=auth)
        assert r.status_code == 200, r.text
        listed = r.json()
        assert {s["id"] for s in listed["data"]} == {first["id"], second["id"]}
        assert [s["id"] for s in listed["data"] if s["attributes"]["current"]] == [second["id"]]
        assert listed["meta"]["totalItems"] == 2 and listed["links"]["next"] is None
        # the gateway passes the client's address on, and that is what the session shows
        assert all(s["attributes"]["ip"].startswith("198.51.100.") for s in listed["data"])

        r = await client.post(
            "/api/v1/auth/password/change",
            json={"currentPassword": "wrong-password-1", "newPassword": "brand-new-secret-7"},
            headers=auth,
        )
        assert r.status_code == 401 and r.json()["errors"][0]["code"] == "INVALID_CURRENT_PASSWORD"

        r = await client.post(
            "/api/v1/auth/password/change",
            json={"currentPassword": user["password"], "newPassword": "brand-new-secret-7"},
            headers=auth,
        )
        assert r.status_code == 204, r.text
        r = await client.post(
            "/api/v1/auth/refresh-token", json={"refreshToken": first["attributes"]["refreshToken"]}
        )
        assert r.status_code == 401 and r.json()["errors"][0]["code"] == "INVALID_REFRESH_TOKEN"
        r = await client.post(
            "/api/v1/auth/refresh-token", json={"refreshToken": second["attributes"]["refreshToken"]}
        )
        assert r.status_code == 200, r.text

        r = await client.delete(f"/api/v1/auth/sessions/{first['id']}", headers=auth)
        assert r.status_code == 404 and r.json()["errors"][0]["code"] == "SESSION_NOT_FOUND"
        assert (await client.post("/api/v1/auth/login", json=credentials)).status_code == 401
        new_credentials = {**credentials, "password": "brand-new-secret-7"}
        third = (await client.post("/api/v1/auth/login", json=new_credentials)).json()["data"]

        r = await client.delete(f"/api/v1/auth/sessions/{third['id']}", headers=auth)
        assert r.status_code == 204, r.text
        r = await client.get("/api/v1/auth/sessions", headers=auth)
        assert [s["id"] for s in r.json()["data"]] == [second["id"]]
