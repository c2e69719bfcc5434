"""SetUserRoles over a real loopback gRPC server and database, the operator's `set_roles`, and the
language copied from Account (`account.user.updated.v1` + Account's GetAccount over real gRPC)."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import grpc
import jwt
import pytest
import sqlalchemy as sa

from parovoz.chassis.errors import ApiError
from parovoz.chassis.events.brokers import Record
from parovoz.chassis.events.cloudevents import CloudEvent, new_event
from parovoz.chassis.events.consumer import EventConsumer
from parovoz.chassis.rpc.errors import api_error_from
from parovoz.chassis.rpc.server import bind, create_server
from parovoz.protos.platform.account.v1 import account_pb2, account_pb2_grpc
from parovoz.protos.platform.auth.v1 import auth_pb2, auth_pb2_grpc
from parovoz.services.auth import SPEC
from parovoz.services.auth.admin import set_roles
from tests.integration.auth.conftest import AuthHarness, attributes, error_codes
from tests.service_identity import auth_service_token, service_channel

_offsets = itertools.count(1)


@pytest.fixture
async def grpc_address(auth: AuthHarness) -> AsyncIterator[str]:
    server, _health = create_server(
        SPEC.grpc(auth.ctx), auth.ctx.settings, service_name="auth", tokens=auth.ctx.tokens
    )
    port = bind(server, "127.0.0.1", 0)
    await server.start()
    yield f"127.0.0.1:{port}"
    await server.stop(grace=None)


@pytest.fixture
async def admin_stub(auth: AuthHarness, grpc_address: str) -> AsyncIterator[auth_pb2_grpc.AuthServiceStub]:
    channel = service_channel(grpc_address, await auth_service_token(auth.ctx, "admin"), caller="admin")
    yield auth_pb2_grpc.AuthServiceStub(channel)
    await channel.close()


async def _failure(call: object) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call  # type: ignore[misc]
    return caught.value.code(), api_error_from(caught.value).code


async def _signed_in(auth: AuthHarness, name: str) -> tuple[str, dict[str, str]]:
    created = await auth.register(f"{name}@example.com", name)
    assert created.status_code == 201, created.text
    return created.json()["data"]["id"], attributes(await auth.login(name))


def _roles_of(access_token: str) -> set[str]:
    return set(jwt.decode(access_token, options={"verify_signature": False})["roles"])


async def _events(auth: AuthHarness, topic: str, user_id: str) -> list[CloudEvent]:
    query = sa.text("SELECT payload FROM outbox WHERE topic = :topic AND key = :key ORDER BY seq")
    async with auth.db.connect() as conn:
        rows = (await conn.execute(query, {"topic": topic, "key": user_id})).all()
    return [CloudEvent.from_json(row.payload) for row in rows]


async def test_set_user_roles_ends_every_session_and_emits(
    auth: AuthHarness, admin_stub: auth_pb2_grpc.AuthServiceStub
) -> None:
    user_id, first = await _signed_in(auth, "ann")
    second = attributes(await auth.login("ann"))
    assert _roles_of(first["accessToken"]) == {"user"}

    reply = await admin_stub.SetUserRoles(
        auth_pb2.SetUserRolesRequest(user_id=user_id, roles=["moderator", "support"]), timeout=5
    )
    assert reply.changed and reply.sessions_ended == 2
    assert list(reply.user.roles) == ["user", "moderator", "support"]
    assert list(reply.previous_roles) == ["user"]

    for old in (first, second):
        refused = await auth.refresh(old["refreshToken"])
        assert refused.status_code == 401 and error_codes(refused) == ["INVALID_REFRESH_TOKEN"]
    fresh = attributes(await auth.login("ann"))
    assert _roles_of(fresh["accessToken"]) == {"user", "moderator", "support"}

    (event,) = await _events(auth, "auth.user.roles.changed", user_id)
    assert event.data["userId"] == user_id and event.data["changedAt"]
    assert (event.data["roles"], event.data["previousRoles"]) == (["user", "moderator", "support"], ["user"])

    # the same roles again: nothing ends, nothing is emitted
    again = await admin_stub.SetUserRoles(
        auth_pb2.SetUserRolesRequest(user_id=user_id, roles=["support", "moderator", "user"]), timeout=5
    )
    assert not again.changed and again.sessions_ended == 0
    assert (await auth.refresh(fresh["refreshToken"])).status_code == 200
    assert len(await _events(auth, "auth.user.roles.changed", user_id)) == 1

    # taking the roles away: only "user" is left
    back = await admin_stub.SetUserRoles(auth_pb2.SetUserRolesRequest(user_id=user_id), timeout=5)
    assert back.changed and list(back.user.roles) == ["user"] and back.sessions_ended == 1


async def test_set_user_roles_refuses_bad_input_and_other_callers(
    auth: AuthHarness, admin_stub: auth_pb2_grpc.AuthServiceStub, grpc_address: str
) -> None:
    user_id, session = await _signed_in(auth, "bob")
    unknown = admin_stub.SetUserRoles(
        auth_pb2.SetUserRolesRequest(user_id=str(uuid.uuid4()), roles=["admin"]), timeout=5
    )
    assert await _failure(unknown) == (grpc.StatusCode.NOT_FOUND, "USER_NOT_FOUND")
    bad_role = admin_stub.SetUserRoles(
        auth_pb2.SetUserRolesRequest(user_id=user_id, roles=["admin", "root"]), timeout=5
    )
    assert await _failure(bad_role) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ROLE")
    malformed = admin_stub.SetUserRoles(auth_pb2.SetUserRolesRequest(user_id="42"), timeout=5)
    assert await _failure(malformed) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_PARAMETER")

    other = service_channel(grpc_address, await auth_service_token(auth.ctx, "payment"), caller="payment")
    try:
        forbidden = auth_pb2_grpc.AuthServiceStub(other).SetUserRoles(
            auth_pb2.SetUserRolesRequest(user_id=user_id, roles=["admin"]), timeout=5
        )
        code, _reason = await _failure(forbidden)
        assert code == grpc.StatusCode.PERMISSION_DENIED
    finally:
        await other.close()
    # nothing changed: the session lives, no event
    assert (await auth.refresh(session["refreshToken"])).status_code == 200
    assert await _events(auth, "auth.user.roles.changed", user_id) == []


async def test_operator_set_roles_by_email_username_or_id(auth: AuthHarness) -> None:
    user_id, session = await _signed_in(auth, "cid")
    change = await set_roles(auth.db, user="CID@Example.com", roles=["developer"])
    assert change.changed and change.roles == ("user", "developer") and change.sessions_ended == 1
    assert (await auth.refresh(session["refreshToken"])).status_code == 401
    assert (await set_roles(auth.db, user="cid", roles=["developer"])).changed is False
    assert (await set_roles(auth.db, user=user_id, roles=["finance"])).roles == ("user", "finance")
    for nobody in ("nobody", "nobody@example.com", str(uuid.uuid4())):
        with pytest.raises(ApiError) as caught:
            await set_roles(auth.db, user=nobody, roles=["admin"])
        assert caught.value.code == "USER_NOT_FOUND"
    with pytest.raises(ApiError) as caught:
        await set_roles(auth.db, user="cid", roles=["emperor"])
    assert caught.value.code == "INVALID_ROLE"
    assert len(await _events(auth, "auth.user.roles.changed", user_id)) == 2


class _Account(account_pb2_grpc.AccountServiceServicer):
    """Account's GetAccount as far as Auth uses it: the language of the known users."""

    def __init__(self) -> None:
        self.languages: dict[str, str] = {}
        self.calls = 0

    async def GetAccount(
        self, request: account_pb2.GetAccountRequest, context: grpc.aio.ServicerContext
    ) -> account_pb2.GetAccountResponse:
        self.calls += 1
        language = self.languages.get(request.user_id)
        if language is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "ACCOUNT_NOT_FOUND")
        return account_pb2.GetAccountResponse(
            account=account_pb2.Account(id=request.user_id, language=language)
        )


@pytest.fixture
async def account(auth: AuthHarness) -> AsyncIterator[_Account]:
    servicer = _Account()
    server = grpc.aio.server()
    account_pb2_grpc.add_AccountServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    auth.ctx.channels["account"] = channel
    yield servicer
    await channel.close()
    await server.stop(grace=None)


def _updated(user_id: str, fields: list[str]) -> CloudEvent:
    return new_event(
        "account.user.updated.v1",
        subject=user_id,
        data={"userId": user_id, "changedFields": fields, "updatedAt": datetime.now(UTC).isoformat()},
        service="account",
    )


async def _deliver(consumer: EventConsumer, event: CloudEvent) -> None:
    record = Record(
        topic=event.topic, key=event.subject.encode(), value=event.to_json(), offset=next(_offsets)
    )
    await consumer.handle_record(record)


async def _language(auth: AuthHarness, user_id: str) -> str:
    async with auth.db.connect() as conn:
        query = sa.text("SELECT language FROM users WHERE id = :id")
        return (await conn.execute(query, {"id": user_id})).scalar_one()


async def test_language_follows_account(auth: AuthHarness, account: _Account) -> None:
    consumer = EventConsumer(auth.ctx, SPEC.subscriptions, max_attempts=1)
    user_id, _ = await _signed_in(auth, "dan")
    assert await _language(auth, user_id) == "ru"
    account.languages[user_id] = "en"

    await _deliver(consumer, _updated(user_id, ["displayName"]))  # not the language: no call
    assert account.calls == 0 and await _language(auth, user_id) == "ru"

    await _deliver(consumer, _updated(user_id, ["displayName", "language"]))
    assert account.calls == 1 and await _language(auth, user_id) == "en"
    # the token carries it from the next sign-in on, and mails use it
    token = attributes(await auth.login("dan"))["accessToken"]
    assert jwt.decode(token, options={"verify_signature": False})["lang"] == "en"

    # a redelivered event (same id) acts once; an unknown account changes nothing
    event = _updated(user_id, ["language"])
    account.languages[user_id] = "ru"
    await _deliver(consumer, event)
    await _deliver(consumer, event)
    assert account.calls == 2 and await _language(auth, user_id) == "ru"
    stranger = str(uuid.uuid4())
    await _deliver(consumer, _updated(stranger, ["language"]))
    assert account.calls == 3
