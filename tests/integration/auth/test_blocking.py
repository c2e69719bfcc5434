"""Auth consuming `account.user.blocked.v1`: a blocked user cannot sign in and every session of it
ends in the handler's transaction; an unblocked one signs in again."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime

import sqlalchemy as sa

from parovoz.chassis.events.brokers import Record
from parovoz.chassis.events.cloudevents import CloudEvent, new_event
from parovoz.chassis.events.consumer import EventConsumer
from parovoz.services.auth import SPEC
from tests.integration.auth.conftest import AuthHarness, error_codes

_offsets = itertools.count(1)


def blocked_event(user_id: str, *, blocked: bool, reason: str | None = "cheating") -> CloudEvent:
    """`account.user.blocked.v1` as Account would publish it."""
    return new_event(
        "account.user.blocked.v1",
        subject=user_id,
        data={
            "userId": user_id,
            "blocked": blocked,
            "reason": reason,
            "changedAt": datetime.now(UTC).isoformat(),
        },
        service="account",
    )


async def deliver(consumer: EventConsumer, event: CloudEvent) -> None:
    key = event.subject.encode()
    record = Record(topic=event.topic, key=key, value=event.to_json(), offset=next(_offsets))
    await consumer.handle_record(record)


async def _login(auth: AuthHarness, login: str) -> dict[str, str]:
    response = await auth.login(login)
    assert response.status_code == 200, response.text
    return {"session": response.json()["data"]["id"], **response.json()["data"]["attributes"]}


async def test_block_ends_sessions_and_sign_in_then_unblock_restores_it(auth: AuthHarness) -> None:
    assert "account.user.blocked.v1" in [s.event for s in SPEC.subscriptions]
    consumer = EventConsumer(auth.ctx, SPEC.subscriptions, max_attempts=1)
    registered = await auth.register("kim@example.com", "kim")
    assert registered.status_code == 201
    user_id = registered.json()["data"]["id"]
    assert (await auth.register("lee@example.com", "lee")).status_code == 201
    bystander = await _login(auth, "lee")
    phone = await _login(auth, "kim")
    laptop = await _login(auth, "kim@example.com")

    block = blocked_event(user_id, blocked=True)
    await deliver(consumer, block)
    await deliver(consumer, block)  # redelivery: the inbox makes it a no-op
    assert (consumer.handled, consumer.duplicates) == (1, 1)

    async with auth.db.connect() as conn:
        by_id = {"id": user_id}
        status = (await conn.execute(sa.text("SELECT status FROM users WHERE id = :id"), by_id)).scalar()
        ended = (
            await conn.execute(
                sa.text("SELECT id::text, revoked_reason FROM sessions WHERE user_id = :id ORDER BY id"),
                {"id": user_id},
            )
        ).all()
        live_refresh = (
            await conn.execute(
                sa.text(
                    "SELECT count(*) FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id "
                    "WHERE s.user_id = :id AND r.revoked_at IS NULL"
                ),
                {"id": user_id},
            )
        ).scalar()
    assert status == "blocked"
    assert sorted((row.id, row.revoked_reason) for row in ended) == sorted(
        (s["session"], "user_blocked") for s in (phone, laptop)
    )
    assert live_refresh == 0

    refused = await auth.login("kim")
    assert refused.status_code == 403 and error_codes(refused) == ["ACCOUNT_BLOCKED"]
    for tokens in (phone, laptop):
        response = await auth.refresh(tokens["refreshToken"])
        assert response.status_code in (401, 403), response.text
    # the access token no longer opens the routes that check the session
    listed = await auth.client.get(
        "/api/v1/auth/sessions", headers={"Authorization": f"Bearer {phone['accessToken']}"}
    )
    assert listed.status_code == 401
    # another user is untouched
    assert (await auth.refresh(bystander["refreshToken"])).status_code == 200

    await deliver(consumer, blocked_event(user_id, blocked=False, reason=None))
    back = await auth.login("kim")
    assert back.status_code == 200, back.text
    # the ended sessions stay ended: unblocking does not revive stolen refresh tokens
    assert (await auth.refresh(laptop["refreshToken"])).status_code == 401


async def test_a_user_auth_does_not_know_is_ignored(auth: AuthHarness) -> None:
    consumer = EventConsumer(auth.ctx, SPEC.subscriptions, max_attempts=1)
    await deliver(consumer, blocked_event(str(uuid.uuid4()), blocked=True))
    assert consumer.handled == 1
    assert await auth.count("users") == 0
