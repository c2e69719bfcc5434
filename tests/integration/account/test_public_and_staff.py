"""Account over a real database: public profiles, object-level authorization, the staff listing."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlsplit

import orjson

from tests.integration.account.conftest import AccountHarness

PUBLIC_ATTRIBUTES = {"username", "displayName", "avatarUrl", "bio", "country", "createdAt", "visibility"}


def codes(response) -> list[str]:
    return [error["code"] for error in response.json()["errors"]]


async def test_public_profile_hides_private_fields(account: AccountHarness) -> None:
    user_id = await account.register("vera")
    owner = account.auth(user_id)
    await account.client.patch(
        "/api/v1/users/me", headers=owner, json={"bio": "Привет", "birthDate": "1995-03-08", "country": "KZ"}
    )

    anonymous = await account.client.get(f"/api/v1/users/{user_id}")
    assert anonymous.status_code == 200
    data = anonymous.json()["data"]
    assert data["type"] == "users"
    assert data["id"] == user_id
    assert set(data["attributes"]) == PUBLIC_ATTRIBUTES
    assert data["attributes"]["bio"] == "Привет"
    assert data["attributes"]["country"] == "KZ"
    assert b"vera@example.ru" not in anonymous.content
    assert b"1995-03-08" not in anonymous.content

    other = await account.register("gleb")
    as_other = await account.client.get(f"/api/v1/users/{user_id}", headers=account.auth(other))
    assert as_other.json() == anonymous.json()  # a signed-in stranger sees the same


async def test_public_profile_conditional_requests(account: AccountHarness) -> None:
    user_id = await account.register("kira")
    first = await account.client.get(f"/api/v1/users/{user_id}")
    etag, last_modified = first.headers["etag"], first.headers["last-modified"]

    by_etag = await account.client.get(f"/api/v1/users/{user_id}", headers={"If-None-Match": etag})
    assert by_etag.status_code == 304
    by_date = await account.client.get(
        f"/api/v1/users/{user_id}", headers={"If-Modified-Since": last_modified}
    )
    assert by_date.status_code == 304

    await account.client.patch(
        "/api/v1/users/me", headers=account.auth(user_id), json={"displayName": "Кира"}
    )
    changed = await account.client.get(f"/api/v1/users/{user_id}", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.json()["data"]["attributes"]["displayName"] == "Кира"
    assert changed.headers["etag"] != etag


async def test_unknown_malformed_and_blocked_ids_are_not_found(account: AccountHarness) -> None:
    for missing in (str(uuid.uuid4()), "not-a-uuid", "1' OR '1'='1", "%00", "x" * 300):
        response = await account.client.get(f"/api/v1/users/{missing}")
        assert response.status_code == 404, missing
        assert codes(response) == ["ACCOUNT_NOT_FOUND"]

    blocked = await account.register("spammer")
    await account.sql("UPDATE accounts SET status = 'blocked' WHERE id = :id", id=blocked)
    viewer = await account.register("viewer")
    as_user = await account.client.get(f"/api/v1/users/{blocked}", headers=account.auth(viewer))
    assert as_user.status_code == 404
    assert codes(as_user) == ["ACCOUNT_NOT_FOUND"]
    as_staff = await account.client.get(
        f"/api/v1/users/{blocked}", headers=account.auth(viewer, roles=("moderator",))
    )
    assert as_staff.status_code == 200
    assert set(as_staff.json()["data"]["attributes"]) == PUBLIC_ATTRIBUTES


async def test_a_user_cannot_change_someone_else(account: AccountHarness) -> None:
    alice = await account.register("alice")
    bob = await account.register("bob")
    bob_before = await account.client.get("/api/v1/users/me", headers=account.auth(bob))

    for path in (f"/api/v1/users/{bob}", f"/api/v1/users/{bob}/profile"):
        response = await account.client.patch(
            path, headers=account.auth(alice), json={"displayName": "pwned"}
        )
        assert response.status_code in (404, 405), path
        assert codes(response)[0] in ("METHOD_NOT_ALLOWED", "ROUTE_NOT_FOUND")

    # nor through /me with someone else's id smuggled into the body
    smuggled = await account.client.patch(
        "/api/v1/users/me",
        headers=account.auth(alice),
        json={"data": {"id": bob, "type": "users", "attributes": {"displayName": "Alice"}}},
    )
    assert smuggled.status_code == 200
    assert smuggled.json()["data"]["id"] == alice

    bob_after = await account.client.get("/api/v1/users/me", headers=account.auth(bob))
    assert bob_after.json() == bob_before.json()


async def _seed_people(account: AccountHarness) -> dict[str, str]:
    people = {
        "anton": ("RU", "ru"),
        "boris": ("RU", "en"),
        "bella": ("KZ", "ru"),
        "carl": ("DE", "en"),
        "dina": (None, "ru"),
    }
    ids: dict[str, str] = {}
    for name, (country, language) in people.items():
        ids[name] = await account.register(name, language=language)
        if country:
            await account.client.patch(
                "/api/v1/users/me", headers=account.auth(ids[name]), json={"country": country}
            )
    return ids


async def test_staff_listing_is_for_staff_only(account: AccountHarness) -> None:
    user = await account.register("plain")
    anonymous = await account.client.get("/api/v1/users")
    assert anonymous.status_code == 401
    for roles in (("user",), ("user", "developer")):
        response = await account.client.get("/api/v1/users", headers=account.auth(user, roles))
        assert response.status_code == 403
        assert codes(response) == ["FORBIDDEN"]
    for role in ("moderator", "support", "finance", "admin"):
        response = await account.client.get("/api/v1/users", headers=account.auth(user, (role,)))
        assert response.status_code == 200, role


async def test_staff_listing_pages_sorts_filters_and_selects(account: AccountHarness) -> None:
    ids = await _seed_people(account)
    staff = account.auth(str(uuid.uuid4()), ("support",))

    default = await account.client.get("/api/v1/users", headers=staff)
    body = default.json()
    assert [u["attributes"]["username"] for u in body["data"]] == ["dina", "carl", "bella", "boris", "anton"]
    assert body["meta"] == {"page": 1, "perPage": 20, "totalPages": 1, "totalItems": 5}
    assert body["data"][0]["attributes"]["email"] == "dina@example.ru"  # staff sees private fields

    paged = (await account.client.get("/api/v1/users?sort=username&per_page=2&page=2", headers=staff)).json()
    assert [u["attributes"]["username"] for u in paged["data"]] == ["boris", "carl"]
    assert paged["meta"] == {"page": 2, "perPage": 2, "totalPages": 3, "totalItems": 5}
    next_query = parse_qs(urlsplit(paged["links"]["next"]).query)
    assert next_query == {"sort": ["username"], "per_page": ["2"], "page": ["3"]}
    assert paged["links"]["prev"] is not None
    assert urlsplit(paged["links"]["last"]).path == "/api/v1/users"

    by_country = (await account.client.get("/api/v1/users?country=RU&sort=-username", headers=staff)).json()
    assert [u["attributes"]["username"] for u in by_country["data"]] == ["boris", "anton"]

    several = (await account.client.get("/api/v1/users?country=RU,KZ&language=ru", headers=staff)).json()
    assert {u["attributes"]["username"] for u in several["data"]} == {"anton", "bella"}

    prefix = (await account.client.get("/api/v1/users?username=B&sort=username", headers=staff)).json()
    assert [u["attributes"]["username"] for u in prefix["data"]] == ["bella", "boris"]

    wildcard = (await account.client.get("/api/v1/users?username=%25", headers=staff)).json()
    assert wildcard["data"] == []  # LIKE metacharacters are literal

    json_filter = orjson.dumps({"or": [{"country": "DE"}, {"username": {"contains": "ntO"}}]}).decode()
    complex_ = await account.client.get("/api/v1/users", params={"filter": json_filter}, headers=staff)
    assert {u["attributes"]["username"] for u in complex_.json()["data"]} == {"carl", "anton"}

    created = default.json()["data"][2]["attributes"]["createdAt"]  # bella's
    newer = await account.client.get("/api/v1/users", params={"createdAt_min": created}, headers=staff)
    assert {u["attributes"]["username"] for u in newer.json()["data"]} == {"bella", "carl", "dina"}

    selected = (
        await account.client.get("/api/v1/users?fields=username,country&sort=username", headers=staff)
    ).json()
    assert selected["data"][0] == {
        "id": ids["anton"],
        "type": "users",
        "attributes": {"username": "anton", "country": "RU"},
    }


async def test_staff_listing_rejects_what_it_does_not_offer(account: AccountHarness) -> None:
    staff = account.auth(str(uuid.uuid4()), ("admin",))
    cases = {
        "per_page=1000": "INVALID_PAGINATION",
        "per_page=0": "INVALID_PAGINATION",
        "page=abc": "INVALID_PAGINATION",
        "sort=email": "INVALID_SORT",
        "sort=password": "INVALID_SORT",
        "password=x": "INVALID_FILTER",
        "birthDate=1990-01-01": "INVALID_FILTER",
        "createdAt_min=yesterday": "INVALID_FILTER",
        "filter=%7Bnope": "INVALID_FILTER",
        'filter={"email":{"regex":"x"}}': "INVALID_FILTER",
        "fields=username,passwordHash": "INVALID_FIELDS",
        "id=not-a-uuid": "INVALID_FILTER",
    }
    for query, code in cases.items():
        response = await account.client.get(f"/api/v1/users?{query}", headers=staff)
        assert response.status_code == 400, query
        assert codes(response) == [code], query


async def test_openapi_documents_the_routes(account: AccountHarness) -> None:
    doc = (await account.client.get("/openapi.json")).json()
    paths = doc["paths"]
    assert "requestBody" in paths["/api/v1/users/me"]["patch"]
    listed = {p["name"] for p in paths["/api/v1/users"]["get"]["parameters"]}
    assert {"page", "per_page", "sort", "fields", "filter", "username", "createdAt_min"} <= listed
