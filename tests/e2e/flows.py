"""The sign-up flow that every run mode must pass, written once for the e2e tests."""

from __future__ import annotations

import time
import uuid

import httpx


def new_user() -> dict:
    """A sign-up body for a fresh player (with the consent sign-up requires)."""
    tag = uuid.uuid4().hex[:10]
    return {
        "email": f"player-{tag}@example.ru",
        "username": f"player_{tag}",
        "password": f"pw-{tag}-secret",
        "acceptTerms": True,
    }


def wait_profile(client: httpx.Client, access: str, timeout: float = 20.0) -> dict:
    """The caller's profile, once Account has handled the registration event."""
    deadline = time.monotonic() + timeout
    while True:
        r = client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {access}"})
        if r.status_code == 200:
            return r.json()["data"]
        assert r.status_code == 404, r.text
        assert r.json()["errors"][0]["code"] == "ACCOUNT_NOT_FOUND"
        if time.monotonic() > deadline:
            raise AssertionError("the profile never appeared")
        time.sleep(0.05)


def signup_flow(client: httpx.Client) -> dict[str, str]:
    """register → login → profile appears → edit → refresh → old refresh fails → logout."""
    user = new_user()
    r = client.post("/api/v1/auth/register", json=user)
    assert r.status_code == 201, r.text
    created = r.json()["data"]
    assert created["type"] == "users"
    assert created["attributes"]["username"] == user["username"]
    assert "password" not in r.text and "argon2" not in r.text
    assert r.headers["location"] == f"/api/v1/users/{created['id']}"
    assert r.headers["x-request-id"]

    r = client.post("/api/v1/auth/login", json={"login": user["email"], "password": user["password"]})
    assert r.status_code == 200, r.text
    tokens = r.json()["data"]["attributes"]
    assert tokens["tokenType"] == "Bearer"
    access, refresh = tokens["accessToken"], tokens["refreshToken"]

    profile = wait_profile(client, access)
    assert profile["id"] == created["id"]
    assert profile["attributes"]["email"] == user["email"]
    assert profile["attributes"]["displayName"] == user["username"]

    auth = {"Authorization": f"Bearer {access}"}
    r = client.patch(
        "/api/v1/users/me", json={"displayName": "Иван Паровозов", "country": "RU"}, headers=auth
    )
    assert r.status_code == 200, r.text
    assert r.json()["data"]["attributes"]["displayName"] == "Иван Паровозов"
    r = client.get(f"/api/v1/users/{created['id']}")
    assert r.status_code == 200, r.text
    public = r.json()["data"]["attributes"]
    assert public["displayName"] == "Иван Паровозов"
    assert "email" not in public

    r = client.post("/api/v1/auth/refresh-token", json={"refreshToken": refresh})
    assert r.status_code == 200, r.text
    rotated = r.json()["data"]["attributes"]
    assert rotated["refreshToken"] != refresh
    r = client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {rotated['accessToken']}"})
    assert r.status_code == 200

    r = client.post("/api/v1/auth/refresh-token", json={"refreshToken": refresh})
    assert r.status_code == 401, r.text
    assert r.json()["errors"][0]["code"] == "REFRESH_TOKEN_REUSED"
    # Reuse revoked the whole session: the rotated token is dead too.
    r = client.post("/api/v1/auth/refresh-token", json={"refreshToken": rotated["refreshToken"]})
    assert r.status_code == 401

    r = client.post("/api/v1/auth/login", json={"login": user["username"], "password": user["password"]})
    assert r.status_code == 200
    second = r.json()["data"]["attributes"]
    r = client.post("/api/v1/auth/logout", json={"refreshToken": second["refreshToken"]})
    assert r.status_code == 204, r.text
    r = client.post("/api/v1/auth/refresh-token", json={"refreshToken": second["refreshToken"]})
    assert r.status_code == 401
    return {**user, "id": created["id"]}
