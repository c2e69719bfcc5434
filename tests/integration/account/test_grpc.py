"""AccountService over a real loopback gRPC server (chassis server, interceptors included)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from parovoz.chassis.rpc.server import bind, create_server
from parovoz.protos.platform.account.v1 import account_pb2, account_pb2_grpc
from parovoz.services.account import SPEC
from tests.integration.account.conftest import AccountHarness
from tests.service_identity import service_channel, service_token


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


def reason_of(error: grpc.aio.AioRpcError) -> str:
    status = rpc_status.from_call(error)
    assert status is not None
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info.reason
    raise AssertionError("no ErrorInfo in the status")


async def test_get_account(account: AccountHarness, stub: account_pb2_grpc.AccountServiceStub) -> None:
    user_id = await account.register("nina", language="en")
    await account.client.patch(
        "/api/v1/users/me", headers=account.auth(user_id), json={"country": "RU", "birthDate": "2001-09-01"}
    )
    response = await stub.GetAccount(account_pb2.GetAccountRequest(user_id=user_id.upper()), timeout=5)
    found = response.account
    assert found.id == user_id
    assert (found.username, found.email, found.display_name) == ("nina", "nina@example.ru", "nina")
    assert (found.country, found.language, found.birth_date) == ("RU", "en", "2001-09-01")
    assert (found.avatar_url, found.bio) == ("", "")
    assert found.status == account_pb2.ACCOUNT_STATUS_ACTIVE
    assert found.created_at.seconds > 0
    assert found.updated_at.ToDatetime() >= found.created_at.ToDatetime()


async def test_get_account_errors(stub: account_pb2_grpc.AccountServiceStub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await stub.GetAccount(account_pb2.GetAccountRequest(user_id=str(uuid.uuid4())), timeout=5)
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    assert reason_of(missing.value) == "ACCOUNT_NOT_FOUND"

    with pytest.raises(grpc.aio.AioRpcError) as malformed:
        await stub.GetAccount(account_pb2.GetAccountRequest(user_id="nope"), timeout=5)
    assert malformed.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert reason_of(malformed.value) == "INVALID_USER_ID"


async def test_get_accounts_batch(account: AccountHarness, stub: account_pb2_grpc.AccountServiceStub) -> None:
    first = await account.register("one")
    second = await account.register("two")
    await account.sql("UPDATE accounts SET status = 'blocked' WHERE id = :id", id=second)
    unknown = str(uuid.uuid4())

    response = await stub.GetAccounts(
        account_pb2.GetAccountsRequest(user_ids=[first, unknown, second, first]), timeout=5
    )
    by_id = {a.id: a for a in response.accounts}
    assert set(by_id) == {first, second}
    assert len(response.accounts) == 2  # a repeated id is returned once
    assert by_id[second].status == account_pb2.ACCOUNT_STATUS_BLOCKED
    assert list(response.missing_ids) == [unknown]

    empty = await stub.GetAccounts(account_pb2.GetAccountsRequest(user_ids=[]), timeout=5)
    assert (list(empty.accounts), list(empty.missing_ids)) == ([], [])

    hundred = [str(uuid.uuid4()) for _ in range(100)]
    at_limit = await stub.GetAccounts(account_pb2.GetAccountsRequest(user_ids=hundred), timeout=5)
    assert len(at_limit.missing_ids) == 100

    with pytest.raises(grpc.aio.AioRpcError) as too_many:
        await stub.GetAccounts(account_pb2.GetAccountsRequest(user_ids=[*hundred, first]), timeout=5)
    assert too_many.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert reason_of(too_many.value) == "TOO_MANY_USER_IDS"

    with pytest.raises(grpc.aio.AioRpcError) as malformed:
        await stub.GetAccounts(account_pb2.GetAccountsRequest(user_ids=[first, "bad"]), timeout=5)
    assert malformed.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert reason_of(malformed.value) == "INVALID_USER_ID"
