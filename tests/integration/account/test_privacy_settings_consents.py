"""Privacy, settings and consents over real PostgreSQL: the routes, what others then see, the
consents kept from the registration event, and the status reason staff sees."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from parovoz.chassis.events.cloudevents import new_event
from parovoz.services.account import store
from tests.integration.account.conftest import AccountHarness
from tests.integration.account.test_status_and_events import outbox

STAFF_ROLES = ("user", "support")


def codes(response) -> list[str]:
    return [e["code"] for e in response.json()["errors"]]


async def test_privacy_defaults_change_and_if_match(account: AccountHarness) -> None:
    user_id = await account.register("masha")
    me = account.auth(user_id)

    r = await account.client.get("/api/v1/users/me/privacy", headers=me)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert (data["type"], data["id"]) == ("privacy-settings", user_id)
    assert data["attributes"] == {
        "visibility": "public",
        "showPlaytime": True,
        "showLibrary": True,
        "showOnlineStatus": True,
        "updatedAt": None,
    }
    etag = r.headers["etag"]
    assert (
        await account.client.get("/api/v1/users/me/privacy", headers={**me, "If-None-Match": etag})
    ).status_code == 304

    r = await account.client.patch(
        "/api/v1/users/me/privacy",
        headers={**me, "If-Match": etag},
        json={
            "data": {
                "type": "privacy-settings",
                "attributes": {"visibility": "private", "showLibrary": False},
            }
        },
    )
    assert r.status_code == 200, r.text
    attributes = r.json()["data"]["attributes"]
    assert (attributes["visibility"], attributes["showLibrary"], attributes["showPlaytime"]) == (
        "private",
        False,
        True,
    )
    assert attributes["updatedAt"] is not None

    # the old validator is stale now: nothing changes
    r = await account.client.patch(
        "/api/v1/users/me/privacy", headers={**me, "If-Match": etag}, json={"visibility": "public"}
    )
    assert r.status_code == 412, r.text
    r = await account.client.get("/api/v1/users/me/privacy", headers=me)
    assert r.json()["data"]["attributes"]["visibility"] == "private"


async def test_bad_privacy_input_is_a_422_per_field(account: AccountHarness) -> None:
    user_id = await account.register("sasha")
    me = account.auth(user_id)
    r = await account.client.patch(
        "/api/v1/users/me/privacy", headers=me, json={"visibility": "secret", "showLibrary": None}
    )
    assert r.status_code == 422, r.text
    assert [(e["code"], e["source"]["pointer"]) for e in r.json()["errors"]] == [
        ("VISIBILITY_INVALID", "/visibility"),
        ("PRIVACY_FLAG_INVALID", "/showLibrary"),
    ]
    for body in ({"showPlaytime": "yes"}, {"roles": ["admin"]}, {"visibility": 1}):
        r = await account.client.patch("/api/v1/users/me/privacy", headers=me, json=body)
        assert r.status_code == 422, (body, r.text)
    rows = await account.sql("SELECT count(*) AS n FROM privacy_settings WHERE user_id = :id", id=user_id)
    assert rows[0].n == 0


async def test_a_private_profile_shows_others_only_the_minimal_card(account: AccountHarness) -> None:
    owner = await account.register("olga")
    other = await account.register("petr")
    r = await account.client.patch(
        "/api/v1/users/me", headers=account.auth(owner), json={"bio": "secret bio", "country": "RU"}
    )
    assert r.status_code == 200, r.text

    async def seen_by(headers: dict[str, str]) -> dict:
        r = await account.client.get(f"/api/v1/users/{owner}", headers=headers)
        assert r.status_code == 200, r.text
        return r.json()["data"]["attributes"]

    public = await seen_by({})
    assert (public["bio"], public["visibility"]) == ("secret bio", "public")

    for visibility in ("private", "friends"):
        r = await account.client.patch(
            "/api/v1/users/me/privacy", headers=account.auth(owner), json={"visibility": visibility}
        )
        assert r.status_code == 200, r.text
        for viewer in ({}, account.auth(other)):
            card = await seen_by(viewer)
            assert card == {
                "username": "olga",
                "displayName": "olga",
                "avatarUrl": None,
                "visibility": visibility,
            }
        for viewer in (account.auth(owner), account.auth(str(uuid.uuid4()), roles=STAFF_ROLES)):
            full = await seen_by(viewer)
            assert (full["bio"], full["country"], full["visibility"]) == ("secret bio", "RU", visibility)
            assert "email" not in full


async def test_settings_language_and_notifications(account: AccountHarness) -> None:
    user_id = await account.register("dima", language="ru")
    me = account.auth(user_id)
    r = await account.client.get("/api/v1/users/me/settings", headers=me)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert (data["type"], data["id"]) == ("settings", user_id)
    assert data["attributes"]["language"] == "ru"
    assert data["attributes"]["notifications"]["email"] == {
        "security": True,
        "purchases": True,
        "social": True,
        "marketing": False,
    }

    r = await account.client.patch(
        "/api/v1/users/me/settings",
        headers=me,
        json={"language": "en", "notifications": {"push": {"social": False}, "email": {"marketing": True}}},
    )
    assert r.status_code == 200, r.text
    attributes = r.json()["data"]["attributes"]
    assert attributes["language"] == "en"
    assert attributes["notifications"]["push"]["social"] is False
    assert attributes["notifications"]["email"]["marketing"] is True
    assert attributes["notifications"]["push"]["purchases"] is True
    # one source of truth: the profile says the same
    profile = await account.client.get("/api/v1/users/me", headers=me)
    assert profile.json()["data"]["attributes"]["language"] == "en"
    events = await outbox(account, "account.user.updated")
    assert [e.data["changedFields"] for e in events] == [["language"]]

    # a notifications-only change emits nothing
    r = await account.client.patch(
        "/api/v1/users/me/settings", headers=me, json={"notifications": {"email": {"social": False}}}
    )
    assert r.status_code == 200, r.text
    assert len(await outbox(account, "account.user.updated")) == 1


async def test_security_mail_stays_on_and_bad_settings_change_nothing(account: AccountHarness) -> None:
    user_id = await account.register("zoya")
    me = account.auth(user_id)
    r = await account.client.patch(
        "/api/v1/users/me/settings",
        headers=me,
        json={"language": "de", "notifications": {"email": {"security": False, "social": False}}},
    )
    assert r.status_code == 422, r.text
    assert [(e["code"], e["source"]["pointer"]) for e in r.json()["errors"]] == [
        ("LANGUAGE_UNSUPPORTED", "/language"),
        ("SECURITY_NOTIFICATIONS_REQUIRED", "/notifications/email/security"),
    ]
    for body in (
        {"notifications": {"sms": {"social": True}}},
        {"notifications": {"email": {"ads": True}}},
        {"notifications": {"email": {"social": "no"}}},
    ):
        r = await account.client.patch("/api/v1/users/me/settings", headers=me, json=body)
        assert r.status_code == 422, (body, r.text)
    r = await account.client.get("/api/v1/users/me/settings", headers=me)
    assert r.json()["data"]["attributes"]["notifications"]["email"]["social"] is True
    assert r.json()["data"]["attributes"]["language"] == "ru"
    assert await outbox(account, "account.user.updated") == []


async def test_consents_from_the_registration_and_marketing_opt_in(account: AccountHarness) -> None:
    user_id = str(uuid.uuid4())
    given = datetime(2026, 11, 27, 9, 30, tzinfo=UTC).isoformat()
    event = new_event(
        "auth.user.registered.v1",
        subject=user_id,
        data={
            "userId": user_id,
            "email": "lena@example.ru",
            "username": "lena",
            "roles": ["user"],
            "registeredAt": given,
            "consents": [
                {
                    "purpose": "terms",
                    "version": "2026-11-01",
                    "givenAt": given,
                    "ip": "203.0.113.5",
                    "userAgent": "UA/1",
                },
                {
                    "purpose": "privacy",
                    "version": "2026-11-01",
                    "givenAt": given,
                    "ip": "203.0.113.5",
                    "userAgent": "UA/1",
                },
            ],
        },
        service="auth",
    )
    await account.deliver(event)
    await account.deliver(event)  # redelivered: handled once
    me = account.auth(user_id)

    r = await account.client.get("/api/v1/users/me/consents", headers=me)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["meta"]["totalItems"] == 2
    listed = {c["attributes"]["purpose"]: c for c in body["data"]}
    assert set(listed) == {"terms", "privacy"}
    terms = listed["terms"]
    assert terms["type"] == "consents"
    assert terms["attributes"]["version"] == "2026-11-01"
    assert terms["attributes"]["ip"] == "203.0.113.5" and terms["attributes"]["userAgent"] == "UA/1"
    assert terms["attributes"]["active"] is True and terms["attributes"]["withdrawnAt"] is None

    r = await account.client.put(
        "/api/v1/users/me/consents/marketing",
        headers={**me, "User-Agent": "Browser/2", "X-Original-IP": "198.51.100.7"},
    )
    assert r.status_code == 200, r.text
    marketing = r.json()["data"]["attributes"]
    assert (marketing["purpose"], marketing["active"], marketing["ip"], marketing["userAgent"]) == (
        "marketing",
        True,
        "198.51.100.7",
        "Browser/2",
    )
    again = await account.client.put("/api/v1/users/me/consents/marketing", headers=me)
    assert again.json()["data"]["id"] == r.json()["data"]["id"]
    assert again.json()["data"]["attributes"]["givenAt"] == marketing["givenAt"]  # kept, not re-given

    r = await account.client.delete(
        "/api/v1/users/me/consents/marketing", headers={**me, "User-Agent": "Browser/3"}
    )
    assert r.status_code == 204, r.text
    rows = await account.sql(
        "SELECT withdrawn_at, withdrawn_user_agent FROM consents"
        " WHERE user_id = :id AND purpose = 'marketing'",
        id=user_id,
    )
    assert rows[0].withdrawn_at is not None and rows[0].withdrawn_user_agent == "Browser/3"
    assert (await account.client.delete("/api/v1/users/me/consents/marketing", headers=me)).status_code == 204

    r = await account.client.get("/api/v1/users/me/consents?sort=purpose", headers=me)
    assert [c["attributes"]["purpose"] for c in r.json()["data"]] == ["marketing", "privacy", "terms"]
    assert r.json()["data"][0]["attributes"]["active"] is False
    # given anew after the withdrawal: the same record, active again
    r = await account.client.put("/api/v1/users/me/consents/marketing", headers=me)
    assert r.json()["data"]["attributes"]["active"] is True
    assert (await account.client.get("/api/v1/users/me/consents?sort=nope", headers=me)).status_code == 400


async def test_routes_need_a_token_and_an_account(account: AccountHarness) -> None:
    for method, path in [
        ("GET", "/api/v1/users/me/privacy"),
        ("GET", "/api/v1/users/me/settings"),
        ("GET", "/api/v1/users/me/consents"),
        ("PUT", "/api/v1/users/me/consents/marketing"),
    ]:
        r = await account.client.request(method, path)
        assert r.status_code == 401, (method, path)
        r = await account.client.request(method, path, headers=account.auth(str(uuid.uuid4())))
        assert r.status_code == 404 and codes(r) == ["ACCOUNT_NOT_FOUND"], (method, path)


async def test_staff_listing_shows_status_reason_and_history(account: AccountHarness) -> None:
    user_id = await account.register("fedor")
    staff_id = str(uuid.uuid4())
    async with account.db.transaction() as uow:
        await store.set_status(
            uow.conn, user_id, "blocked", now=datetime.now(UTC), reason="cheating", changed_by=staff_id
        )
    r = await account.client.get(
        "/api/v1/users?username=fedor", headers=account.auth(staff_id, roles=STAFF_ROLES)
    )
    assert r.status_code == 200, r.text
    attributes = r.json()["data"][0]["attributes"]
    assert (attributes["status"], attributes["statusReason"]) == ("blocked", "cheating")
    assert attributes["statusChangedAt"] is not None
    rows = await account.sql(
        "SELECT status, reason, changed_by FROM account_status_history WHERE user_id = :id", id=user_id
    )
    assert [(row.status, row.reason, str(row.changed_by)) for row in rows] == [
        ("blocked", "cheating", staff_id)
    ]
    # the owner's own profile does not carry staff's notes
    own = await account.client.get("/api/v1/users/me", headers=account.auth(user_id))
    assert "statusReason" not in own.json()["data"]["attributes"]
