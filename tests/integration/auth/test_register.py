"""Sign-up against a real database: the user, its event in the outbox, duplicates, bad input."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime

import sqlalchemy as sa

from parovoz.chassis.events.cloudevents import CloudEvent
from tests.integration.auth.conftest import PASSWORD, AuthHarness, attributes, error_codes


async def test_register_creates_the_user_and_its_event_in_one_transaction(auth: AuthHarness) -> None:
    response = await auth.client.post(
        "/api/v1/auth/register",
        json={"email": " Ann@Example.COM", "username": "Ann_1", "password": PASSWORD, "acceptTerms": True},
        headers={"Accept-Language": "en", "X-Request-ID": "req-register-1", "User-Agent": "ann-ua/1"},
    )
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    user_id = data["id"]
    uuid.UUID(user_id)
    assert data["type"] == "users"
    assert response.headers["location"] == f"/api/v1/users/{user_id}"
    attrs = data["attributes"]
    assert {k: attrs[k] for k in ("email", "username", "roles", "emailVerified")} == {
        "email": "ann@example.com",
        "username": "Ann_1",
        "roles": ["user"],
        "emailVerified": False,
    }
    assert attrs["createdAt"].endswith("Z")
    assert "password" not in response.text and "argon2" not in response.text

    async with auth.db.connect() as conn:
        stored = (await conn.execute(sa.text("SELECT email, password_hash FROM users"))).one()
        outbox = (await conn.execute(sa.text("SELECT topic, key, payload FROM outbox ORDER BY seq"))).all()
    assert stored.email == "ann@example.com" and stored.password_hash.startswith("$argon2id$v=19$m=19456,t=2")
    # the user's event and the verification mail's event, committed with the user
    assert [(row.topic, row.key) for row in outbox] == [
        ("auth.user.registered", user_id),
        ("auth.email.verification.requested", user_id),
    ]
    event = CloudEvent.from_json(outbox[0].payload)
    assert event.type == "com.parovoz.auth.user.registered.v1"
    assert event.subject == user_id and event.source.startswith("/auth/")
    assert event.correlationid == "req-register-1"
    assert event.data["userId"] == user_id
    assert event.data["email"] == "ann@example.com" and event.data["username"] == "Ann_1"
    assert event.data["roles"] == ["user"] and event.data["language"] == "en"
    assert event.data["registeredAt"].startswith(attrs["createdAt"][:19])
    # 152-FZ: both consents, versioned, with where they were given from
    consents = {c["purpose"]: c for c in event.data["consents"]}
    assert set(consents) == {"terms", "privacy"}
    for consent in consents.values():
        assert consent["version"] == "2026-11-01" and consent["userAgent"] == "ann-ua/1"
        # given at sign-up: the same moment, give or take the password hashing between the two clocks
        given, created = (datetime.fromisoformat(t) for t in (consent["givenAt"], attrs["createdAt"]))
        assert consent["ip"] and abs((created - given).total_seconds()) < 5


async def test_duplicates_are_409_and_write_nothing(auth: AuthHarness) -> None:
    assert (await auth.register("ann@example.com", "ann")).status_code == 201
    taken_email = await auth.register("ANN@example.com", "someone")
    taken_name = await auth.register("other@example.com", "ANN")
    assert taken_email.status_code == 409 and error_codes(taken_email) == ["EMAIL_TAKEN"]
    assert taken_email.json()["errors"][0]["source"]["pointer"] == "/data/attributes/email"
    assert taken_name.status_code == 409 and error_codes(taken_name) == ["USERNAME_TAKEN"]
    assert await auth.count("users") == 1 and await auth.count("outbox") == 2
    assert await auth.count("one_time_tokens") == 1


async def test_simultaneous_duplicate_sign_ups_leave_exactly_one_user(auth: AuthHarness) -> None:
    responses = await asyncio.gather(*(auth.register(f"race{i}@example.com", "racer") for i in range(4)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201, 409, 409, 409]
    assert await auth.count("users") == 1 and await auth.count("outbox") == 2
    assert await auth.count("one_time_tokens") == 1


async def test_enveloped_body_is_accepted(auth: AuthHarness) -> None:
    body = {
        "data": {
            "type": "users",
            "attributes": {
                "email": "e@example.com",
                "username": "env",
                "password": PASSWORD,
                "acceptTerms": True,
            },
        }
    }
    response = await auth.client.post("/api/v1/auth/register", json=body)
    assert response.status_code == 201 and attributes(response)["username"] == "env"


async def test_bad_bodies_are_refused_and_nothing_is_written(auth: AuthHarness) -> None:
    good = {"email": "bad@example.com", "username": "baduser", "password": PASSWORD, "acceptTerms": True}
    cases: list[tuple[bytes | dict, int, str, str | None]] = [
        (b'{"email": "x@example.com",', 400, "MALFORMED_JSON", None),
        ({**good, "password": 12345678}, 422, "VALIDATION_FAILED", "/password"),
        ({**good, "roles": ["admin"]}, 422, "VALIDATION_FAILED", "/roles"),
        ({**good, "email": "not-an-email"}, 422, "VALIDATION_FAILED", "/email"),
        ({**good, "username": "x"}, 422, "VALIDATION_FAILED", "/username"),
        ({**good, "password": "short"}, 422, "VALIDATION_FAILED", "/password"),
        ({"email": "bad@example.com"}, 422, "VALIDATION_FAILED", "/username"),
        ({**good, "acceptTerms": False}, 422, "VALIDATION_FAILED", "/acceptTerms"),
        ({k: v for k, v in good.items() if k != "acceptTerms"}, 422, "VALIDATION_FAILED", "/acceptTerms"),
        ([good], 422, "VALIDATION_FAILED", None),
    ]
    for body, status, code, pointer in cases:
        if isinstance(body, bytes):
            response = await auth.client.post(
                "/api/v1/auth/register", content=body, headers={"Content-Type": "application/json"}
            )
        else:
            response = await auth.client.post("/api/v1/auth/register", json=body)
        assert response.status_code == status, (body, response.text)
        assert code in error_codes(response)
        if pointer is not None:
            pointers = [e.get("source", {}).get("pointer") for e in response.json()["errors"]]
            assert pointer in pointers, (body, pointers)
    assert await auth.count("users") == 0 and await auth.count("outbox") == 0


async def test_validation_texts_follow_the_language(auth: AuthHarness) -> None:
    body = {"email": "ok@example.com", "username": "ok_user", "password": "short", "acceptTerms": True}
    ru = await auth.client.post("/api/v1/auth/register", json=body)
    en = await auth.client.post("/api/v1/auth/register", json=body, headers={"Accept-Language": "en"})
    assert "8 до 256" in ru.json()["errors"][0]["detail"]
    assert "8 to 256" in en.json()["errors"][0]["detail"]


async def test_common_or_identity_passwords_are_422_on_the_password_and_write_nothing(
    auth: AuthHarness,
) -> None:
    cases = [
        (
            {"email": "ann@example.com", "username": "ann_1", "password": " Password1 ", "acceptTerms": True},
            "common",
        ),
        (
            {
                "email": "Ann.Smith@Example.com",
                "username": "ann_1",
                "password": "ANN.SMITH",
                "acceptTerms": True,
            },
            "e-mail",
        ),
        (
            {
                "email": "ann@example.com",
                "username": "Ann_Smith",
                "password": "ann_smith ",
                "acceptTerms": True,
            },
            "username",
        ),
    ]
    for body, reason in cases:
        en = await auth.client.post("/api/v1/auth/register", json=body, headers={"Accept-Language": "en"})
        ru = await auth.client.post("/api/v1/auth/register", json={"data": {"attributes": body}})
        assert en.status_code == 422 and ru.status_code == 422, (reason, en.text, ru.text)
        assert error_codes(en) == ["VALIDATION_FAILED"] == error_codes(ru)
        assert en.json()["errors"][0]["source"]["pointer"] == "/password"
        assert ru.json()["errors"][0]["source"]["pointer"] == "/data/attributes/password"
        expected = ("too common", "распространён") if reason == "common" else ("username", "именем")
        assert expected[0] in en.json()["errors"][0]["detail"], en.text
        assert expected[1] in ru.json()["errors"][0]["detail"], ru.text
    assert await auth.count("users") == 0 and await auth.count("outbox") == 0
    ok = {
        "email": "ann@example.com",
        "username": "ann_1",
        "password": "ann-is-a-long-secret",
        "acceptTerms": True,
    }
    assert (await auth.client.post("/api/v1/auth/register", json=ok)).status_code == 201
