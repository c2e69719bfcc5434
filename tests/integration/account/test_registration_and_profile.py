"""Account over a real database: registration events, `/users/me`, conditional requests, If-Match."""

from __future__ import annotations

import uuid

from tests.integration.account.conftest import AccountHarness


def codes(response) -> list[str]:
    return [error["code"] for error in response.json()["errors"]]


async def test_registration_creates_the_account_exactly_once(account: AccountHarness) -> None:
    event = account.registration(username="olga", language="en")
    await account.deliver(event)
    await account.deliver(event)  # redelivery: same event id
    # A re-published copy under another event id, even with other data, must not duplicate it.
    copy = account.registration(user_id=event.subject, username="someone_else")
    await account.deliver(copy)

    rows = await account.sql("SELECT username, email FROM accounts WHERE id = :id", id=event.subject)
    assert [tuple(r) for r in rows] == [("olga", "olga@example.ru")]
    profiles = await account.sql(
        "SELECT display_name, language FROM profiles WHERE user_id = :id", id=event.subject
    )
    assert [tuple(r) for r in profiles] == [("olga", "en")]
    inbox = await account.sql("SELECT count(*) FROM inbox WHERE consumer = 'account'")
    assert inbox[0][0] == 2  # the original and the copy; the redelivery found its row
    assert account.consumer.duplicates == 1


async def test_me_requires_a_token_and_an_account(account: AccountHarness) -> None:
    anonymous = await account.client.get("/api/v1/users/me")
    assert anonymous.status_code == 401
    assert codes(anonymous) == ["UNAUTHORIZED"]

    not_yet = await account.client.get("/api/v1/users/me", headers=account.auth(str(uuid.uuid4())))
    assert not_yet.status_code == 404
    assert codes(not_yet) == ["ACCOUNT_NOT_FOUND"]


async def test_me_returns_the_full_profile_with_validators(account: AccountHarness) -> None:
    user_id = await account.register("ivan")
    headers = account.auth(user_id)
    response = await account.client.get("/api/v1/users/me", headers=headers)
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["id"] == user_id
    assert data["type"] == "users"
    assert data["attributes"] == {
        "username": "ivan",
        "email": "ivan@example.ru",
        "displayName": "ivan",
        "avatarUrl": None,
        "bio": None,
        "country": None,
        "language": "ru",
        "birthDate": None,
        "status": "active",
        "createdAt": data["attributes"]["createdAt"],
        "updatedAt": data["attributes"]["updatedAt"],
    }
    assert data["attributes"]["createdAt"].endswith("Z")
    etag, last_modified = response.headers["etag"], response.headers["last-modified"]

    again = await account.client.get("/api/v1/users/me", headers={**headers, "If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag

    since = await account.client.get(
        "/api/v1/users/me", headers={**headers, "If-Modified-Since": last_modified}
    )
    assert since.status_code == 304


async def test_patch_changes_only_the_given_fields(account: AccountHarness) -> None:
    user_id = await account.register("petr")
    headers = account.auth(user_id)
    before = await account.client.get("/api/v1/users/me", headers=headers)

    response = await account.client.patch(
        "/api/v1/users/me",
        headers=headers,
        json={
            "data": {
                "type": "users",
                "attributes": {
                    "displayName": "  Пётр  ",
                    "country": "RU",
                    "birthDate": "1990-05-17",
                    "avatarUrl": "https://cdn.example.ru/p.png",
                },
            }
        },
    )
    assert response.status_code == 200
    attributes = response.json()["data"]["attributes"]
    assert attributes["displayName"] == "Пётр"
    assert attributes["country"] == "RU"
    assert attributes["birthDate"] == "1990-05-17"
    assert attributes["avatarUrl"] == "https://cdn.example.ru/p.png"
    assert attributes["language"] == "ru"  # not sent: unchanged
    assert attributes["bio"] is None
    assert response.headers["etag"] != before.headers["etag"]
    assert "last-modified" in response.headers

    # the bare attributes form works too; null clears an optional field
    cleared = await account.client.patch(
        "/api/v1/users/me", headers=headers, json={"avatarUrl": None, "language": "en"}
    )
    assert cleared.status_code == 200
    assert cleared.json()["data"]["attributes"]["avatarUrl"] is None
    assert cleared.json()["data"]["attributes"]["country"] == "RU"

    read = await account.client.get("/api/v1/users/me", headers=headers)
    assert read.json() == cleared.json()
    assert read.headers["etag"] == cleared.headers["etag"]


async def test_if_match_guards_against_lost_updates(account: AccountHarness) -> None:
    user_id = await account.register("masha")
    headers = account.auth(user_id)
    etag = (await account.client.get("/api/v1/users/me", headers=headers)).headers["etag"]

    first = await account.client.patch(
        "/api/v1/users/me", headers={**headers, "If-Match": etag}, json={"bio": "первая правка"}
    )
    assert first.status_code == 200

    stale = await account.client.patch(
        "/api/v1/users/me", headers={**headers, "If-Match": etag}, json={"bio": "затирает первую"}
    )
    assert stale.status_code == 412
    assert codes(stale) == ["PRECONDITION_FAILED"]
    current = await account.client.get("/api/v1/users/me", headers=headers)
    assert current.json()["data"]["attributes"]["bio"] == "первая правка"

    weak = await account.client.patch(
        "/api/v1/users/me",
        headers={**headers, "If-Match": "W/" + first.headers["etag"]},
        json={"bio": "x"},
    )
    assert weak.status_code == 412  # If-Match compares strongly

    fresh = await account.client.patch(
        "/api/v1/users/me",
        headers={**headers, "If-Match": f'"other", {first.headers["etag"]}'},
        json={"bio": "вторая правка"},
    )
    assert fresh.status_code == 200
    assert fresh.json()["data"]["attributes"]["bio"] == "вторая правка"

    anything = await account.client.patch(
        "/api/v1/users/me", headers={**headers, "If-Match": "*"}, json={"bio": None}
    )
    assert anything.status_code == 200


async def test_mass_assignment_is_refused_and_nothing_changes(account: AccountHarness) -> None:
    user_id = await account.register("anna")
    headers = account.auth(user_id)
    before = await account.client.get("/api/v1/users/me", headers=headers)

    for forbidden in (
        {"email": "attacker@example.ru"},
        {"username": "admin"},
        {"status": "active"},
        {"roles": ["admin"]},
        {"id": str(uuid.uuid4())},
        {"createdAt": "2000-01-01T00:00:00Z"},
    ):
        (name,) = forbidden
        response = await account.client.patch(
            "/api/v1/users/me",
            headers=headers,
            json={"data": {"type": "users", "attributes": {"displayName": "Hacked", **forbidden}}},
        )
        assert response.status_code == 422, name
        pointers = [e["source"]["pointer"] for e in response.json()["errors"]]
        assert pointers == [f"/data/attributes/{name}"]

    after = await account.client.get("/api/v1/users/me", headers=headers)
    assert after.json() == before.json()
    assert after.headers["etag"] == before.headers["etag"]


async def test_invalid_values_get_one_error_per_field(account: AccountHarness) -> None:
    user_id = await account.register("lena")
    headers = {**account.auth(user_id), "Accept-Language": "en"}
    response = await account.client.patch(
        "/api/v1/users/me",
        headers=headers,
        json={
            "displayName": "",
            "avatarUrl": "http://insecure.example/a.png",
            "country": "ru",
            "language": "de",
            "birthDate": "2999-01-01",
            "bio": "x" * 1001,
        },
    )
    assert response.status_code == 422
    found = {e["source"]["pointer"]: e["code"] for e in response.json()["errors"]}
    assert found == {
        "/displayName": "DISPLAY_NAME_INVALID",
        "/avatarUrl": "AVATAR_URL_INVALID",
        "/country": "COUNTRY_INVALID",
        "/language": "LANGUAGE_UNSUPPORTED",
        "/birthDate": "BIRTH_DATE_INVALID",
        "/bio": "BIO_INVALID",
    }
    assert response.json()["errors"][0]["title"] == "Invalid display name"

    enveloped = await account.client.patch(
        "/api/v1/users/me", headers=headers, json={"data": {"attributes": {"displayName": 5}}}
    )
    assert enveloped.status_code == 422
    assert enveloped.json()["errors"][0]["source"]["pointer"] == "/data/attributes/displayName"

    nothing_changed = await account.client.get("/api/v1/users/me", headers=headers)
    assert nothing_changed.json()["data"]["attributes"]["displayName"] == "lena"
