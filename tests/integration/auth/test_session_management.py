"""Listing and revoking one's sessions, and changing the password, through Auth's HTTP API."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from tests.integration.auth.conftest import PASSWORD, AuthHarness, error_codes

NEW_PASSWORD = "a-brand-new-secret-7"


async def _login(auth: AuthHarness, login: str, agent: str, ip: str) -> dict[str, Any]:
    response = await auth.login(login, **{"User-Agent": agent, "X-Original-IP": ip})
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    return {"session": data["id"], **data["attributes"]}


def _bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['accessToken']}"}


async def _two_sessions(auth: AuthHarness) -> tuple[dict[str, Any], dict[str, Any]]:
    assert (await auth.register("ann@example.com", "ann")).status_code == 201
    phone = await _login(auth, "ann", "phone/1", "198.51.100.1")
    laptop = await _login(auth, "ann@example.com", "laptop/2", "198.51.100.2")
    return phone, laptop


async def _sessions(auth: AuthHarness, tokens: dict[str, Any]) -> list[dict[str, Any]]:
    response = await auth.client.get("/api/v1/auth/sessions", headers=_bearer(tokens))
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    return response.json()["data"]


async def _change(auth: AuthHarness, tokens: dict[str, Any], current: str, new: str) -> Any:
    return await auth.client.post(
        "/api/v1/auth/password/change",
        json={"currentPassword": current, "newPassword": new},
        headers=_bearer(tokens),
    )


async def test_list_shows_every_session_and_marks_the_callers(auth: AuthHarness) -> None:
    phone, laptop = await _two_sessions(auth)
    listed = await _sessions(auth, laptop)
    assert [s["type"] for s in listed] == ["sessions", "sessions"]
    by_id = {s["id"]: s["attributes"] for s in listed}
    assert set(by_id) == {phone["session"], laptop["session"]}
    assert [s["id"] for s in listed if s["attributes"]["current"]] == [laptop["session"]]
    assert listed[0]["id"] == laptop["session"]  # most recently used first
    phone_attrs = by_id[phone["session"]]
    assert (phone_attrs["userAgent"], phone_attrs["ip"], phone_attrs["current"]) == (
        "phone/1",
        "198.51.100.1",
        False,
    )
    assert phone_attrs["createdAt"].endswith("Z") and phone_attrs["lastUsedAt"].endswith("Z")

    # the other caller sees the same list with its own session marked
    mine = [s["id"] for s in await _sessions(auth, phone) if s["attributes"]["current"]]
    assert mine == [phone["session"]]


async def test_list_needs_a_token_and_pages_like_every_collection(auth: AuthHarness) -> None:
    _phone, laptop = await _two_sessions(auth)
    anonymous = await auth.client.get("/api/v1/auth/sessions")
    assert anonymous.status_code == 401 and error_codes(anonymous) == ["UNAUTHORIZED"]
    page = await auth.client.get("/api/v1/auth/sessions?per_page=1&page=2", headers=_bearer(laptop))
    body = page.json()
    assert len(body["data"]) == 1
    assert body["meta"] == {"page": 2, "perPage": 1, "totalPages": 2, "totalItems": 2}
    bad = await auth.client.get("/api/v1/auth/sessions?sort=ip", headers=_bearer(laptop))
    assert bad.status_code == 400 and error_codes(bad) == ["INVALID_SORT"]


async def test_revoking_the_other_session_ends_it(auth: AuthHarness) -> None:
    phone, laptop = await _two_sessions(auth)
    revoked = await auth.client.delete(f"/api/v1/auth/sessions/{phone['session']}", headers=_bearer(laptop))
    assert revoked.status_code == 204, revoked.text

    dead = await auth.refresh(phone["refreshToken"])
    assert dead.status_code == 401 and error_codes(dead) == ["INVALID_REFRESH_TOKEN"]
    assert [s["id"] for s in await _sessions(auth, laptop)] == [laptop["session"]]
    # a revoked session's access token no longer manages sessions
    stale = await auth.client.get("/api/v1/auth/sessions", headers=_bearer(phone))
    assert stale.status_code == 401 and error_codes(stale) == ["INVALID_TOKEN"]
    # once revoked it is gone: a second delete is a 404
    again = await auth.client.delete(f"/api/v1/auth/sessions/{phone['session']}", headers=_bearer(laptop))
    assert again.status_code == 404 and error_codes(again) == ["SESSION_NOT_FOUND"]
    assert (await auth.refresh(laptop["refreshToken"])).status_code == 200


async def test_another_users_session_is_a_404_and_stays_usable(auth: AuthHarness) -> None:
    phone, _laptop = await _two_sessions(auth)
    assert (await auth.register("bob@example.com", "bob")).status_code == 201
    bob = await _login(auth, "bob", "bob/1", "203.0.113.9")

    for target in (phone["session"], "00000000-0000-4000-8000-000000000000", "not-a-uuid"):
        response = await auth.client.delete(f"/api/v1/auth/sessions/{target}", headers=_bearer(bob))
        assert response.status_code == 404, (target, response.text)
        assert error_codes(response) == ["SESSION_NOT_FOUND"]
    assert (await auth.refresh(phone["refreshToken"])).status_code == 200
    assert [s["id"] for s in await _sessions(auth, bob)] == [bob["session"]]


async def test_password_change_refuses_a_wrong_current_password(auth: AuthHarness) -> None:
    phone, laptop = await _two_sessions(auth)
    wrong = await _change(auth, laptop, "not-my-password", NEW_PASSWORD)
    assert wrong.status_code == 401 and error_codes(wrong) == ["INVALID_CURRENT_PASSWORD"]
    assert wrong.json()["errors"][0]["source"] == {"pointer": "/data/attributes/currentPassword"}
    # nothing changed: the old password still signs in, the other session still refreshes
    assert (await auth.login("ann")).status_code == 200
    assert (await auth.refresh(phone["refreshToken"])).status_code == 200


async def test_password_change_applies_the_sign_up_rules(auth: AuthHarness) -> None:
    _phone, laptop = await _two_sessions(auth)
    for weak, code in (("short", "VALIDATION_FAILED"), ("password123", "VALIDATION_FAILED")):
        response = await _change(auth, laptop, PASSWORD, weak)
        assert response.status_code == 422 and error_codes(response) == [code], response.text
        assert response.json()["errors"][0]["source"]["pointer"] == "/newPassword"
    enveloped = await auth.client.post(
        "/api/v1/auth/password/change",
        json={"data": {"type": "passwords", "attributes": {"currentPassword": PASSWORD, "newPassword": "x"}}},
        headers=_bearer(laptop),
    )
    assert enveloped.status_code == 422
    assert enveloped.json()["errors"][0]["source"]["pointer"] == "/data/attributes/newPassword"
    # equal to the account's own e-mail or username: known only to the flow
    same = await _change(auth, laptop, PASSWORD, "Ann@Example.com")
    assert same.status_code == 422 and error_codes(same) == ["PASSWORD_MATCHES_IDENTITY"]
    assert same.json()["errors"][0]["source"] == {"pointer": "/data/attributes/newPassword"}
    assert (await auth.login("ann")).status_code == 200


async def test_password_change_ends_every_other_session(auth: AuthHarness) -> None:
    phone, laptop = await _two_sessions(auth)
    async with auth.db.connect() as conn:
        old_hash = (await conn.execute(sa.text("SELECT password_hash FROM users"))).scalar_one()

    changed = await _change(auth, laptop, PASSWORD, NEW_PASSWORD)
    assert changed.status_code == 204 and changed.content == b""

    dead = await auth.refresh(phone["refreshToken"])
    assert dead.status_code == 401 and error_codes(dead) == ["INVALID_REFRESH_TOKEN"]
    kept = await auth.refresh(laptop["refreshToken"])
    assert kept.status_code == 200, kept.text
    assert [s["id"] for s in await _sessions(auth, laptop)] == [laptop["session"]]

    old = await auth.login("ann")
    assert old.status_code == 401 and error_codes(old) == ["INVALID_CREDENTIALS"]
    assert (await auth.login("ann", NEW_PASSWORD)).status_code == 200
    async with auth.db.connect() as conn:
        new_hash = (await conn.execute(sa.text("SELECT password_hash FROM users"))).scalar_one()
    assert new_hash != old_hash and new_hash.startswith("$argon2id$") and NEW_PASSWORD not in new_hash


async def test_password_change_needs_a_live_session(auth: AuthHarness) -> None:
    phone, laptop = await _two_sessions(auth)
    anonymous = await auth.client.post(
        "/api/v1/auth/password/change", json={"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD}
    )
    assert anonymous.status_code == 401 and error_codes(anonymous) == ["UNAUTHORIZED"]
    assert (await _change(auth, laptop, PASSWORD, NEW_PASSWORD)).status_code == 204
    # the phone's access token is still unexpired, but its session ended with the change
    stale = await _change(auth, phone, NEW_PASSWORD, "yet-another-secret-9")
    assert stale.status_code == 401 and error_codes(stale) == ["INVALID_TOKEN"]
    assert (await auth.login("ann", NEW_PASSWORD)).status_code == 200
