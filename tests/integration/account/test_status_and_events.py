"""Account's own events: `SetAccountStatus` over a real loopback gRPC server emits
`account.user.blocked.v1`, `PATCH /users/me` emits `account.user.updated.v1`, each in the outbox
of the transaction that made the change, and only when something changed."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import grpc
import pytest

from parovoz.chassis.events.cloudevents import CloudEvent
from parovoz.chassis.rpc.server import bind, create_server
from parovoz.protos.platform.account.v1 import account_pb2, account_pb2_grpc
from parovoz.services.account import SPEC
from tests.integration.account.conftest import AccountHarness
from tests.integration.account.test_grpc import reason_of
from tests.service_identity import service_channel, service_token

BLOCKED = account_pb2.ACCOUNT_STATUS_BLOCKED
ACTIVE = account_pb2.ACCOUNT_STATUS_ACTIVE


@pytest.fixture
async def stub(account: AccountHarness) -> AsyncIterator[account_pb2_grpc.AccountServiceStub]:
    server, _health = create_server(
        SPEC.grpc(account.ctx), account.ctx.settings, service_name="account", tokens=account.ctx.tokens
    )
    port = bind(server, "127.0.0.1", 0)
    await server.start()
    # the Admin service is SetAccountStatus's caller; the lookups take any service
    channel = service_channel(f"127.0.0.1:{port}", service_token(account.issuer.signing_key, "admin"))
    try:
        yield account_pb2_grpc.AccountServiceStub(channel)
    finally:
        await channel.close()
        await server.stop(grace=None)


async def outbox(account: AccountHarness, topic: str) -> list[CloudEvent]:
    rows = await account.sql("SELECT key, payload FROM outbox WHERE topic = :topic ORDER BY seq", topic=topic)
    events = [CloudEvent.from_json(row.payload) for row in rows]
    assert [row.key for row in rows] == [event.subject for event in events]
    return events


def set_status(user_id: str, status: int, reason: str = "") -> account_pb2.SetAccountStatusRequest:
    return account_pb2.SetAccountStatusRequest(user_id=user_id, status=status, reason=reason)


async def test_block_and_unblock_emit_one_event_per_change(
    account: AccountHarness, stub: account_pb2_grpc.AccountServiceStub
) -> None:
    user_id = await account.register("boris")
    assert SPEC.emits == ("account.user.updated.v1", "account.user.blocked.v1", "account.user.deleted.v1")

    blocked = await stub.SetAccountStatus(set_status(user_id.upper(), BLOCKED, "  cheating  "), timeout=5)
    assert blocked.changed is True
    assert (blocked.account.id, blocked.account.status) == (user_id, BLOCKED)
    rows = await account.sql("SELECT status FROM accounts WHERE id = :id", id=user_id)
    assert rows[0].status == "blocked"

    # the same status again: idempotent, nothing written, nothing emitted
    again = await stub.SetAccountStatus(set_status(user_id, BLOCKED, "another reason"), timeout=5)
    assert (again.changed, again.account.status) == (False, BLOCKED)

    unblocked = await stub.SetAccountStatus(set_status(user_id, ACTIVE), timeout=5)
    assert (unblocked.changed, unblocked.account.status) == (True, ACTIVE)
    assert (await stub.SetAccountStatus(set_status(user_id, ACTIVE), timeout=5)).changed is False

    events = await outbox(account, "account.user.blocked")
    assert [e.type for e in events] == ["com.parovoz.account.user.blocked.v1"] * 2
    assert all(e.subject == user_id and e.source.startswith("/account/") for e in events)
    first, second = (e.data for e in events)
    assert (first["userId"], first["blocked"], first["reason"]) == (user_id, True, "cheating")
    assert (second["userId"], second["blocked"], second["reason"]) == (user_id, False, None)
    assert first["changedAt"] <= second["changedAt"]
    # the status change stamps the account, so its validators change for every reader
    assert unblocked.account.updated_at.ToDatetime() > blocked.account.created_at.ToDatetime()


async def test_set_status_errors_change_nothing(
    account: AccountHarness, stub: account_pb2_grpc.AccountServiceStub
) -> None:
    user_id = await account.register("vera")
    cases = [
        (set_status(str(uuid.uuid4()), BLOCKED, "spam"), grpc.StatusCode.NOT_FOUND, "ACCOUNT_NOT_FOUND"),
        (set_status("nope", BLOCKED, "spam"), grpc.StatusCode.INVALID_ARGUMENT, "INVALID_USER_ID"),
        (
            set_status(user_id, account_pb2.ACCOUNT_STATUS_UNSPECIFIED),
            grpc.StatusCode.INVALID_ARGUMENT,
            "INVALID_ACCOUNT_STATUS",
        ),
        (set_status(user_id, BLOCKED), grpc.StatusCode.INVALID_ARGUMENT, "INVALID_BLOCK_REASON"),
        (set_status(user_id, BLOCKED, "   "), grpc.StatusCode.INVALID_ARGUMENT, "INVALID_BLOCK_REASON"),
        (set_status(user_id, BLOCKED, "x" * 501), grpc.StatusCode.INVALID_ARGUMENT, "INVALID_BLOCK_REASON"),
    ]
    for request, code, reason in cases:
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await stub.SetAccountStatus(request, timeout=5)
        assert (failed.value.code(), reason_of(failed.value)) == (code, reason), request
    rows = await account.sql("SELECT status FROM accounts WHERE id = :id", id=user_id)
    assert rows[0].status == "active"
    assert await outbox(account, "account.user.blocked") == []


async def test_patch_emits_updated_with_the_changed_fields_only(account: AccountHarness) -> None:
    user_id = await account.register("gleb")
    headers = account.auth(user_id)

    response = await account.client.patch(
        "/api/v1/users/me",
        headers=headers,
        json={"displayName": "Gleb", "country": "RU", "language": "ru", "bio": None},
    )
    assert response.status_code == 200, response.text
    # language was "ru" and bio null already: only the two real changes are named
    events = await outbox(account, "account.user.updated")
    assert len(events) == 1
    event = events[0]
    assert event.type == "com.parovoz.account.user.updated.v1" and event.subject == user_id
    assert event.data["userId"] == user_id
    assert event.data["changedFields"] == ["displayName", "country"]
    assert event.data["updatedAt"].startswith(response.json()["data"]["attributes"]["updatedAt"][:19])

    # nothing new: no write, no event, and the profile keeps its validators
    etag = response.headers["etag"]
    same = await account.client.patch(
        "/api/v1/users/me", headers=headers, json={"displayName": "Gleb", "country": "RU"}
    )
    assert same.status_code == 200 and same.headers["etag"] == etag
    empty = await account.client.patch("/api/v1/users/me", headers=headers, json={})
    assert empty.status_code == 200
    assert len(await outbox(account, "account.user.updated")) == 1

    cleared = await account.client.patch(
        "/api/v1/users/me", headers=headers, json={"country": None, "birthDate": "2000-01-02"}
    )
    assert cleared.status_code == 200, cleared.text
    events = await outbox(account, "account.user.updated")
    assert [e.data["changedFields"] for e in events] == [["displayName", "country"], ["country", "birthDate"]]

    # a refused change emits nothing
    bad = await account.client.patch("/api/v1/users/me", headers=headers, json={"country": "xx"})
    assert bad.status_code == 422
    assert len(await outbox(account, "account.user.updated")) == 2
