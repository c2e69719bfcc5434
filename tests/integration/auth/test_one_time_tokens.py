"""E-mail verification and password reset against a real database, through the HTTP API; the
tokens are read from the outbox events, as the mail Notification sends would carry them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from parovoz.chassis.events import registry
from parovoz.chassis.events.cloudevents import CloudEvent
from parovoz.services.auth.domain.one_time import token_hash
from parovoz.services.auth.wiring import components
from tests.integration.auth.conftest import PASSWORD, AuthHarness, BuildAuth, attributes, error_codes

VERIFY_TOPIC = "auth.email.verification.requested"
RESET_TOPIC = "auth.password.reset.requested"
NEW_PASSWORD = "brand-new-secret-7"


async def events_of(auth: AuthHarness, topic: str, user_id: str) -> list[CloudEvent]:
    query = sa.text("SELECT payload FROM outbox WHERE topic = :topic AND key = :key ORDER BY seq")
    async with auth.db.connect() as conn:
        rows = (await conn.execute(query, {"topic": topic, "key": user_id})).all()
    return [CloudEvent.from_json(row.payload) for row in rows]


async def events_of_topic(auth: AuthHarness, topic: str) -> list[sa.Row]:
    async with auth.db.connect() as conn:
        return list(
            (await conn.execute(sa.text("SELECT seq FROM outbox WHERE topic = :t"), {"t": topic})).all()
        )


async def mailed_token(auth: AuthHarness, topic: str, user_id: str) -> str:
    return (await events_of(auth, topic, user_id))[-1].data["token"]


async def signed_up(auth: AuthHarness, email: str = "ann@example.com", username: str = "ann") -> str:
    response = await auth.register(email, username)
    assert response.status_code == 201, response.text
    return response.json()["data"]["id"]


async def verify(auth: AuthHarness, token: str):  # type: ignore[no-untyped-def]
    return await auth.client.post("/api/v1/auth/email/verify", json={"token": token})


async def forgot(auth: AuthHarness, email: str, **headers: str):  # type: ignore[no-untyped-def]
    return await auth.client.post("/api/v1/auth/password/forgot", json={"email": email}, headers=headers)


async def reset(auth: AuthHarness, token: str, password: str = NEW_PASSWORD):  # type: ignore[no-untyped-def]
    return await auth.client.post(
        "/api/v1/auth/password/reset", json={"token": token, "newPassword": password}
    )


def later(hours: float):  # type: ignore[no-untyped-def]
    moment = datetime.now(UTC) + timedelta(hours=hours)
    return lambda: moment


async def test_sign_up_mails_a_verification_token_that_works_once(auth: AuthHarness) -> None:
    user_id = await signed_up(auth)
    [event] = await events_of(auth, VERIFY_TOPIC, user_id)
    assert event.type == "com.parovoz.auth.email.verification.requested.v1" and event.subject == user_id
    data = event.data
    assert (data["userId"], data["email"], data["language"]) == (user_id, "ann@example.com", "ru")
    assert len(data["token"]) >= 43
    expires = datetime.fromisoformat(data["expiresAt"].replace("Z", "+00:00"))
    assert timedelta(hours=23, minutes=59) < expires - datetime.now(UTC) <= timedelta(hours=24)
    # only the hash is stored
    async with auth.db.connect() as conn:
        stored = (await conn.execute(sa.text("SELECT token_hash, purpose FROM one_time_tokens"))).one()
    assert stored.token_hash == token_hash(data["token"]) and stored.purpose == "verify_email"

    assert (await components(auth.ctx).store.user_by_id(user_id)).email_verified is False  # type: ignore[union-attr]
    first = await verify(auth, data["token"])
    assert first.status_code == 204, first.text
    assert (await components(auth.ctx).store.user_by_id(user_id)).email_verified is True  # type: ignore[union-attr]

    again = await verify(auth, data["token"])
    assert again.status_code == 400 and error_codes(again) == ["INVALID_ONE_TIME_TOKEN"]
    assert again.json()["errors"][0]["source"]["pointer"] == "/data/attributes/token"


async def test_unknown_expired_or_wrong_purpose_tokens_are_refused_alike(auth: AuthHarness) -> None:
    user_id = await signed_up(auth)
    token = await mailed_token(auth, VERIFY_TOPIC, user_id)
    assert error_codes(await verify(auth, "not-a-token")) == ["INVALID_ONE_TIME_TOKEN"]
    # a verification token does not reset a password
    wrong = await reset(auth, token)
    assert wrong.status_code == 400 and error_codes(wrong) == ["INVALID_ONE_TIME_TOKEN"]
    components(auth.ctx).flows.clock = later(24.01)
    expired = await verify(auth, token)
    assert expired.status_code == 400 and error_codes(expired) == ["INVALID_ONE_TIME_TOKEN"]
    assert (await components(auth.ctx).store.user_by_id(user_id)).email_verified is False  # type: ignore[union-attr]
    english = await auth.client.post(
        "/api/v1/auth/email/verify", json={"token": "x"}, headers={"Accept-Language": "en"}
    )
    assert english.json()["errors"][0]["title"] == "Invalid link"


async def test_forgot_answers_the_same_for_known_and_unknown_addresses(auth: AuthHarness) -> None:
    user_id = await signed_up(auth)
    outbox_before = await auth.count("outbox")
    known = await forgot(auth, "ANN@example.com")
    unknown = await forgot(auth, "nobody@example.com")
    assert known.status_code == unknown.status_code == 202
    assert known.content == unknown.content == b""
    assert dict(known.headers).keys() == dict(unknown.headers).keys()
    # the known address got a reset mail; the unknown one wrote nothing
    assert await auth.count("outbox") == outbox_before + 1
    [event] = await events_of(auth, RESET_TOPIC, user_id)
    assert event.type == "com.parovoz.auth.password.reset.requested.v1"
    assert (event.data["email"], event.data["language"]) == ("ann@example.com", "ru")
    expires = datetime.fromisoformat(event.data["expiresAt"].replace("Z", "+00:00"))
    assert timedelta(minutes=59) < expires - datetime.now(UTC) <= timedelta(hours=1)
    bad = await forgot(auth, "not-an-address")
    assert bad.status_code == 422


async def test_forgot_is_rate_limited_per_client_address(auth: AuthHarness) -> None:
    statuses = [(await forgot(auth, f"x{i}@example.com")).status_code for i in range(6)]
    assert statuses == [202] * 5 + [429]


async def test_forgot_is_rate_limited_per_e_mail_known_or_not(build_auth: BuildAuth) -> None:
    auth = await build_auth({"AUTH_PASSWORD_FORGOT_RATE_PER_MIN": "100"})
    await signed_up(auth)
    for email in ("ann@example.com", "nobody@example.com"):
        statuses = [(await forgot(auth, email)).status_code for _ in range(6)]
        assert statuses == [202] * 5 + [429]
    assert len(await events_of_topic(auth, RESET_TOPIC)) == 5


async def test_reset_sets_the_password_and_ends_every_session(auth: AuthHarness) -> None:
    user_id = await signed_up(auth)
    sessions = [attributes(await auth.login("ann")) for _ in range(2)]
    assert (await forgot(auth, "ann@example.com")).status_code == 202
    token = await mailed_token(auth, RESET_TOPIC, user_id)

    weak = await reset(auth, token, "ann@example.com")
    assert weak.status_code == 422 and weak.json()["errors"][0]["source"]["pointer"].endswith("newPassword")
    same_as_name = await reset(auth, token, "ann")
    assert same_as_name.status_code == 422

    done = await reset(auth, token)
    assert done.status_code == 204, done.text
    assert (await auth.login("ann", PASSWORD)).status_code == 401
    assert (await auth.login("ann", NEW_PASSWORD)).status_code == 200
    for old in sessions:
        refused = await auth.refresh(old["refreshToken"])
        assert refused.status_code == 401 and error_codes(refused) == ["INVALID_REFRESH_TOKEN"]

    again = await reset(auth, token, "another-secret-9")
    assert again.status_code == 400 and error_codes(again) == ["INVALID_ONE_TIME_TOKEN"]
    assert (await auth.login("ann", NEW_PASSWORD)).status_code == 200


async def test_an_expired_or_superseded_reset_token_is_refused(auth: AuthHarness) -> None:
    user_id = await signed_up(auth)
    await forgot(auth, "ann@example.com")
    first = await mailed_token(auth, RESET_TOPIC, user_id)
    await forgot(auth, "ann@example.com")
    second = await mailed_token(auth, RESET_TOPIC, user_id)
    assert first != second
    flows = components(auth.ctx).flows
    flows.clock = later(1.01)
    expired = await reset(auth, second)
    assert expired.status_code == 400 and error_codes(expired) == ["INVALID_ONE_TIME_TOKEN"]
    flows.clock = lambda: datetime.now(UTC)
    assert (await reset(auth, second)).status_code == 204
    # using one reset token voids the other mailed ones
    assert error_codes(await reset(auth, first, "another-secret-9")) == ["INVALID_ONE_TIME_TOKEN"]
    assert (await auth.login("ann", NEW_PASSWORD)).status_code == 200


async def test_simultaneous_resets_with_one_token_have_one_winner(auth: AuthHarness) -> None:
    user_id = await signed_up(auth)
    await forgot(auth, "ann@example.com")
    token = await mailed_token(auth, RESET_TOPIC, user_id)
    results = await asyncio.gather(*(reset(auth, token, f"parallel-secret-{i}") for i in range(3)))
    assert sorted(r.status_code for r in results) == [204, 400, 400]


async def test_the_events_carry_the_token_and_the_registry_marks_it_secret() -> None:
    for name in ("auth.email.verification.requested.v1", "auth.password.reset.requested.v1"):
        definition = registry.get(name)
        assert definition.owner == "auth" and definition.secret_fields == frozenset({"token"})
        assert "token" in definition.data.model_fields
    catalogue = registry.catalogue()["components"]["messages"]
    assert catalogue["auth.password.reset.requested.v1"]["x-secret-fields"] == ["token"]
