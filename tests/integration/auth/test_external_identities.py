"""External sign-in over a real database: what one sign-up writes (all or nothing), replays and
races, passwordless users, the data export's section and erasure."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime

import sqlalchemy as sa

from parovoz.services.auth.deletion import erase_user
from parovoz.services.auth.export import export_user
from tests.integration.auth.conftest import BuildAuth, attributes, error_codes

BOT_TOKEN = "7000002:integration-bot"


def widget(person_id: int, *, age_s: int = 30, **extra: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "id": person_id,
        "first_name": "Ольга",
        "last_name": "Стрелочникова",
        "auth_date": int(time.time()) - age_s,
        **extra,
    }
    check = "\n".join(f"{k}={fields[k]}" for k in sorted(fields))
    secret = hashlib.sha256(BOT_TOKEN.encode()).digest()
    return {**fields, "hash": hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()}


async def test_telegram_sign_up_writes_user_identity_and_event_together(build_auth: BuildAuth) -> None:
    auth = await build_auth(env={"AUTH_TELEGRAM_BOT_TOKEN": BOT_TOKEN})
    payload = {**widget(7001), "acceptTerms": True}

    r = await auth.client.post("/api/v1/auth/telegram", json=payload, headers={"User-Agent": "tg-test"})
    assert r.status_code == 200, r.text
    assert attributes(r)["tokenType"] == "Bearer"
    async with auth.db.connect() as conn:
        user = (await conn.execute(sa.text("SELECT * FROM users"))).one()
        identity = (await conn.execute(sa.text("SELECT * FROM external_identities"))).one()
        events = (await conn.execute(sa.text("SELECT topic, payload FROM outbox"))).all()
    assert user.password_hash is None and user.username == "Olga_Strelochnikova"
    assert user.email.endswith("@users.parovoz.invalid") and user.email_verified is False
    assert (identity.user_id, identity.provider, identity.external_id) == (user.id, "telegram", "7001")
    registered = [json.loads(e.payload) for e in events if e.topic == "auth.user.registered"]
    assert len(registered) == 1
    consents = registered[0]["data"]["consents"]
    assert {c["purpose"] for c in consents} == {"terms", "privacy"}
    assert all(c["userAgent"] == "tg-test" for c in consents)
    # no verification mail for an address nobody owns
    assert not [e for e in events if e.topic == "auth.email.verification.requested"]

    # the replay changes nothing
    r = await auth.client.post("/api/v1/auth/telegram", json=payload)
    assert r.status_code == 401 and error_codes(r) == ["TELEGRAM_AUTH_REPLAYED"]
    assert await auth.count("users") == 1 and await auth.count("sessions") == 1


async def test_refused_sign_up_leaves_nothing(build_auth: BuildAuth) -> None:
    auth = await build_auth(env={"AUTH_TELEGRAM_BOT_TOKEN": BOT_TOKEN})
    r = await auth.client.post("/api/v1/auth/telegram", json=widget(7002))
    assert r.status_code == 422 and error_codes(r) == ["CONSENT_REQUIRED"]
    r = await auth.client.post(
        "/api/v1/auth/telegram", json={**widget(7002), "hash": "0" * 64, "acceptTerms": True}
    )
    assert r.status_code == 401 and error_codes(r) == ["INVALID_TELEGRAM_AUTH"]
    for table in ("users", "external_identities", "telegram_payloads_used", "outbox", "sessions"):
        assert await auth.count(table) == 0, table


async def test_one_payload_sent_twice_at_once_signs_in_once(build_auth: BuildAuth) -> None:
    auth = await build_auth(env={"AUTH_TELEGRAM_BOT_TOKEN": BOT_TOKEN})
    payload = {**widget(7003), "acceptTerms": True}
    answers = await asyncio.gather(
        *(auth.client.post("/api/v1/auth/telegram", json=payload) for _ in range(2))
    )
    assert sorted(r.status_code for r in answers) == [200, 401]
    assert await auth.count("users") == 1 and await auth.count("external_identities") == 1


async def test_passwordless_user_answers_like_a_wrong_password(build_auth: BuildAuth) -> None:
    auth = await build_auth(env={"AUTH_TELEGRAM_BOT_TOKEN": BOT_TOKEN})
    r = await auth.client.post("/api/v1/auth/telegram", json={**widget(7004), "acceptTerms": True})
    assert r.status_code == 200
    r = await auth.login("Olga_Strelochnikova", "any-password-1")
    assert r.status_code == 401 and error_codes(r) == ["INVALID_CREDENTIALS"]


async def test_unconfigured_providers_are_unavailable(build_auth: BuildAuth) -> None:
    auth = await build_auth()
    r = await auth.client.get("/api/v1/auth/oauth/vk/authorize")
    assert r.status_code == 503 and error_codes(r) == ["OAUTH_PROVIDER_NOT_CONFIGURED"]
    r = await auth.client.post("/api/v1/auth/telegram", json=widget(7005))
    assert r.status_code == 503 and error_codes(r) == ["OAUTH_PROVIDER_NOT_CONFIGURED"]
    assert await auth.count("oauth_states") == 0


async def test_export_lists_identities_and_erasure_removes_them(build_auth: BuildAuth) -> None:
    auth = await build_auth(env={"AUTH_TELEGRAM_BOT_TOKEN": BOT_TOKEN})
    r = await auth.client.post("/api/v1/auth/telegram", json={**widget(7006), "acceptTerms": True})
    assert r.status_code == 200
    async with auth.db.connect() as conn:
        user_id = (await conn.execute(sa.text("SELECT id FROM users"))).scalar_one()
        exported = await export_user(conn, str(user_id))
    assert exported is not None
    [identity] = exported["identities"]
    assert identity["provider"] == "telegram" and identity["externalId"] == "7006"
    assert identity["linkedAt"] and "token" not in json.dumps(exported["identities"]).lower()

    async with auth.db.transaction() as uow:
        assert await erase_user(uow.conn, str(user_id), datetime.now(UTC))
    assert await auth.count("external_identities") == 0
