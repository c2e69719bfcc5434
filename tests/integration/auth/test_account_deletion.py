"""Auth's side of 152-FZ rights: `account.user.deleted.v1` erases the user (sign-in then fails like
for an unknown user, refresh tokens die, one-time tokens go), `VerifyUserCredentials` re-checks
the password or a fresh sign-in, `ExportUserData` returns what Auth holds and no secret."""

from __future__ import annotations

import itertools
import json
import uuid
from datetime import UTC, datetime, timedelta

import grpc
import pytest
import sqlalchemy as sa

from parovoz.chassis.errors import ApiError
from parovoz.chassis.events.brokers import Record
from parovoz.chassis.events.cloudevents import CloudEvent, new_event
from parovoz.chassis.events.consumer import EventConsumer
from parovoz.chassis.rpc.server import bind, create_server
from parovoz.protos.platform.auth.v1 import auth_pb2, auth_pb2_grpc
from parovoz.services.auth import SPEC
from parovoz.services.auth.domain import totp
from parovoz.services.auth.rpc import SERVICE_NAME, AuthServicer
from tests.integration.auth.conftest import PASSWORD, AuthHarness, error_codes
from tests.service_identity import auth_service_token, service_channel

_offsets = itertools.count(1)


def _servicer(auth: AuthHarness) -> AuthServicer:
    """Auth's servicer as the service registers it (called directly: these tests are about what
    the methods do; the e2e tests go over the wire)."""
    (registration,) = [r for r in SPEC.grpc(auth.ctx) if r.name == SERVICE_NAME]
    return registration.servicer  # type: ignore[return-value]


def deleted_event(user_id: str) -> CloudEvent:
    return new_event(
        "account.user.deleted.v1",
        subject=user_id,
        data={"userId": user_id, "deletedAt": datetime.now(UTC).isoformat()},
        service="account",
    )


async def deliver(consumer: EventConsumer, event: CloudEvent) -> None:
    record = Record(
        topic=event.topic, key=event.subject.encode(), value=event.to_json(), offset=next(_offsets)
    )
    await consumer.handle_record(record)


async def _signed_up(auth: AuthHarness, name: str) -> tuple[str, dict[str, str]]:
    r = await auth.register(f"{name}@example.com", name)
    assert r.status_code == 201, r.text
    login = await auth.login(name)
    assert login.status_code == 200, login.text
    return r.json()["data"]["id"], {
        "session": login.json()["data"]["id"],
        **login.json()["data"]["attributes"],
    }


async def test_deletion_erases_the_user(auth: AuthHarness) -> None:
    consumer = EventConsumer(auth.ctx, SPEC.subscriptions, max_attempts=1)
    user_id, tokens = await _signed_up(auth, "olga")
    _, bystander = await _signed_up(auth, "petr")
    r = await auth.client.post("/api/v1/auth/password/forgot", json={"email": "olga@example.com"})
    assert r.status_code in (202, 204), r.text

    event = deleted_event(user_id)
    await deliver(consumer, event)
    await deliver(consumer, event)
    assert (consumer.handled, consumer.duplicates) == (1, 1)

    async with auth.db.connect() as conn:
        row = (
            await conn.execute(
                sa.text("SELECT email, username, password_hash, status, roles FROM users WHERE id = :id"),
                {"id": user_id},
            )
        ).one()
        live_sessions = (
            await conn.execute(
                sa.text("SELECT count(*) FROM sessions WHERE user_id = :id AND revoked_at IS NULL"),
                {"id": user_id},
            )
        ).scalar()
        kept_places = (
            await conn.execute(
                sa.text(
                    "SELECT count(*) FROM sessions WHERE user_id = :id"
                    " AND (client_ip IS NOT NULL OR user_agent IS NOT NULL OR device IS NOT NULL)"
                ),
                {"id": user_id},
            )
        ).scalar()
        one_time = (
            await conn.execute(
                sa.text("SELECT count(*) FROM one_time_tokens WHERE user_id = :id"), {"id": user_id}
            )
        ).scalar()
    assert row.status == "deleted" and row.password_hash is None and list(row.roles) == []
    assert "olga" not in row.email and "olga" not in row.username
    assert (live_sessions, kept_places, one_time) == (0, 0, 0)
    # the sessions' access tokens are refused everywhere: the revocation event is in the outbox
    async with auth.db.connect() as conn:
        revoked = (
            await conn.execute(
                sa.text(
                    "SELECT payload FROM outbox WHERE topic = 'auth.user.sessions.revoked' AND key = :id"
                ),
                {"id": user_id},
            )
        ).all()
    revoked_ids = {s for row in revoked for s in CloudEvent.from_json(row.payload).data["sessionIds"]}
    assert tokens["session"] in revoked_ids

    # sign-in: exactly what an unknown user gets
    for login in ("olga", "olga@example.com", row.email, row.username):
        r = await auth.login(login)
        unknown = await auth.login(f"nobody-{uuid.uuid4().hex[:6]}")
        assert (
            (r.status_code, error_codes(r))
            == (unknown.status_code, error_codes(unknown))
            == (
                401,
                ["INVALID_CREDENTIALS"],
            )
        ), login
    r = await auth.refresh(tokens["refreshToken"])
    assert r.status_code == 401, r.text
    # the name and address are free again, and other users are untouched
    assert (await auth.register("olga@example.com", "olga")).status_code == 201
    assert (await auth.refresh(bystander["refreshToken"])).status_code == 200


async def test_deletion_of_an_unknown_user_is_a_no_op(auth: AuthHarness) -> None:
    consumer = EventConsumer(auth.ctx, SPEC.subscriptions, max_attempts=1)
    await deliver(consumer, deleted_event(str(uuid.uuid4())))
    assert consumer.handled == 1


async def test_verify_user_credentials(auth: AuthHarness) -> None:
    servicer = _servicer(auth)
    user_id, tokens = await _signed_up(auth, "ivan")

    def request(**fields: str) -> auth_pb2.VerifyUserCredentialsRequest:
        return auth_pb2.VerifyUserCredentialsRequest(user_id=user_id, **fields)

    reply = await servicer.VerifyUserCredentials(request(password=PASSWORD), None)  # type: ignore[arg-type]
    assert reply.method == "password"
    for wrong in ("", "wrong-password-1"):
        with pytest.raises(ApiError) as failed:
            await servicer.VerifyUserCredentials(request(password=wrong, session_id=tokens["session"]), None)  # type: ignore[arg-type]
        assert (failed.value.status, failed.value.code) == (401, "INVALID_CURRENT_PASSWORD")
    for unknown in (str(uuid.uuid4()),):
        with pytest.raises(ApiError) as failed:
            await servicer.VerifyUserCredentials(
                auth_pb2.VerifyUserCredentialsRequest(user_id=unknown, password=PASSWORD),
                None,  # type: ignore[arg-type]
            )
        assert failed.value.code == "USER_NOT_FOUND"
    with pytest.raises(ApiError) as failed:
        await servicer.VerifyUserCredentials(auth_pb2.VerifyUserCredentialsRequest(user_id="42"), None)  # type: ignore[arg-type]
    assert failed.value.status == 400


async def test_a_user_without_password_needs_a_fresh_sign_in(auth: AuthHarness) -> None:
    servicer = _servicer(auth)
    user_id, tokens = await _signed_up(auth, "vk_user")
    # as a user who signed up with VK / OK / Telegram: no password hash
    async with auth.db.transaction() as uow:
        await uow.conn.execute(
            sa.text("UPDATE users SET password_hash = NULL WHERE id = :id"), {"id": user_id}
        )
    fresh = auth_pb2.VerifyUserCredentialsRequest(user_id=user_id, session_id=tokens["session"])
    assert (await servicer.VerifyUserCredentials(fresh, None)).method == "recent_sign_in"  # type: ignore[arg-type]

    async with auth.db.transaction() as uow:
        await uow.conn.execute(
            sa.text("UPDATE sessions SET created_at = :then WHERE id = :id"),
            {"then": datetime.now(UTC) - timedelta(minutes=16), "id": tokens["session"]},
        )
    for request in (
        fresh,
        auth_pb2.VerifyUserCredentialsRequest(user_id=user_id, password="anything-at-all"),
    ):
        with pytest.raises(ApiError) as failed:
            await servicer.VerifyUserCredentials(request, None)  # type: ignore[arg-type]
        assert (failed.value.status, failed.value.code) == (401, "REAUTHENTICATION_REQUIRED")


async def test_export_user_data_holds_no_secret(auth: AuthHarness) -> None:
    servicer = _servicer(auth)
    user_id, tokens = await _signed_up(auth, "lena")
    reply = await servicer.ExportUserData(auth_pb2.ExportUserDataRequest(user_id=user_id), None)  # type: ignore[arg-type]
    data = json.loads(reply.data_json)
    assert data["user"]["id"] == user_id
    assert (data["user"]["email"], data["user"]["username"]) == ("lena@example.com", "lena")
    assert data["user"]["roles"] == ["user"] and data["user"]["hasPassword"] is True
    assert [s["id"] for s in data["sessions"]] == [tokens["session"]]
    assert {"ip", "userAgent", "createdAt", "lastUsedAt"} <= set(data["sessions"][0])
    async with auth.db.connect() as conn:
        password_hash = (
            await conn.execute(sa.text("SELECT password_hash FROM users WHERE id = :id"), {"id": user_id})
        ).scalar()
    for secret in (
        password_hash,
        "argon2",
        tokens["refreshToken"],
        tokens["accessToken"],
        "token_hash",
        'hash"',
    ):
        assert secret not in reply.data_json
    with pytest.raises(ApiError) as failed:
        await servicer.ExportUserData(auth_pb2.ExportUserDataRequest(user_id=str(uuid.uuid4())), None)  # type: ignore[arg-type]
    assert failed.value.code == "USER_NOT_FOUND"


async def test_only_account_may_ask_over_the_wire(auth: AuthHarness) -> None:
    """A password oracle and a personal-data dump: the server refuses every caller but Account."""
    user_id, _ = await _signed_up(auth, "wire")
    server, _health = create_server(
        SPEC.grpc(auth.ctx), auth.ctx.settings, service_name="auth", tokens=auth.ctx.tokens
    )
    port = bind(server, "127.0.0.1", 0)
    await server.start()
    channels = {
        caller: service_channel(f"127.0.0.1:{port}", await auth_service_token(auth.ctx, caller))
        for caller in ("account", "admin")
    }
    try:
        as_account = auth_pb2_grpc.AuthServiceStub(channels["account"])
        as_admin = auth_pb2_grpc.AuthServiceStub(channels["admin"])
        verify = auth_pb2.VerifyUserCredentialsRequest(user_id=user_id, password=PASSWORD)
        export = auth_pb2.ExportUserDataRequest(user_id=user_id)
        assert (await as_account.VerifyUserCredentials(verify, timeout=5)).method == "password"
        assert (
            json.loads((await as_account.ExportUserData(export, timeout=5)).data_json)["user"]["id"]
            == user_id
        )
        for call in (
            as_admin.VerifyUserCredentials(verify, timeout=5),
            as_admin.ExportUserData(export, timeout=5),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await call
            assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    finally:
        for channel in channels.values():
            await channel.close()
        await server.stop(grace=None)


async def test_with_two_factor_on_the_code_is_needed_too(auth: AuthHarness) -> None:
    servicer = _servicer(auth)
    user_id, _ = await _signed_up(auth, "twofa")
    mfa = servicer.auth.mfa
    enrolment = await mfa.start_enrolment(user_id)
    recovery = await mfa.confirm_enrolment(user_id, totp.code_for(enrolment.secret, datetime.now(UTC)))

    def request(password: str, code: str = "") -> auth_pb2.VerifyUserCredentialsRequest:
        return auth_pb2.VerifyUserCredentialsRequest(user_id=user_id, password=password, code=code)

    for attempt, expected in [
        (request("wrong-password-1", recovery[0]), "INVALID_CURRENT_PASSWORD"),
        (request(PASSWORD), "MFA_CODE_REQUIRED"),
        (request(PASSWORD, "000000"), "INVALID_MFA_CODE"),
    ]:
        with pytest.raises(ApiError) as failed:
            await servicer.VerifyUserCredentials(attempt, None)  # type: ignore[arg-type]
        assert (failed.value.status, failed.value.code) == (401, expected)
    reply = await servicer.VerifyUserCredentials(request(PASSWORD, recovery[0]), None)  # type: ignore[arg-type]
    assert reply.method == "password"
