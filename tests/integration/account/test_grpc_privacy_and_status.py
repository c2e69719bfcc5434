"""Account's gRPC with this issue's additions: the privacy settings in `GetAccount(s)`, the status
reason and who decided it kept with its history, and a deleted account's status."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import grpc
import pytest

from parovoz.protos.platform.account.v1 import account_pb2, account_pb2_grpc
from parovoz.services.account import store
from tests.integration.account.conftest import AccountHarness
from tests.integration.account.test_grpc import reason_of
from tests.integration.account.test_status_and_events import stub  # noqa: F401  (the fixture)

BLOCKED = account_pb2.ACCOUNT_STATUS_BLOCKED
ACTIVE = account_pb2.ACCOUNT_STATUS_ACTIVE


async def test_accounts_carry_their_privacy(
    account: AccountHarness,
    stub: account_pb2_grpc.AccountServiceStub,  # noqa: F811
) -> None:
    shy = await account.register("shy")
    open_ = await account.register("open")
    r = await account.client.patch(
        "/api/v1/users/me/privacy",
        headers=account.auth(shy),
        json={"visibility": "friends", "showPlaytime": False, "showOnlineStatus": False},
    )
    assert r.status_code == 200, r.text

    got = (await stub.GetAccount(account_pb2.GetAccountRequest(user_id=shy), timeout=5)).account
    assert got.privacy.visibility == account_pb2.PROFILE_VISIBILITY_FRIENDS
    assert (got.privacy.show_playtime, got.privacy.show_library, got.privacy.show_online_status) == (
        False,
        True,
        False,
    )
    batch = await stub.GetAccounts(account_pb2.GetAccountsRequest(user_ids=[shy, open_]), timeout=5)
    visibility = {a.id: a.privacy.visibility for a in batch.accounts}
    assert visibility == {
        shy: account_pb2.PROFILE_VISIBILITY_FRIENDS,
        open_: account_pb2.PROFILE_VISIBILITY_PUBLIC,
    }


async def test_status_reason_and_who_are_kept_with_the_history(
    account: AccountHarness,
    stub: account_pb2_grpc.AccountServiceStub,  # noqa: F811
) -> None:
    user_id = await account.register("rita")
    staff_id = str(uuid.uuid4())
    blocked = await stub.SetAccountStatus(
        account_pb2.SetAccountStatusRequest(
            user_id=user_id, status=BLOCKED, reason="spam", changed_by=staff_id
        ),
        timeout=5,
    )
    assert (blocked.account.status, blocked.account.status_reason) == (BLOCKED, "spam")
    unblocked = await stub.SetAccountStatus(
        account_pb2.SetAccountStatusRequest(user_id=user_id, status=ACTIVE, reason="appeal granted"),
        timeout=5,
    )
    assert unblocked.account.status_reason == "appeal granted"
    rows = await account.sql(
        "SELECT status, reason, changed_by::text AS by FROM account_status_history"
        " WHERE user_id = :id ORDER BY id",
        id=user_id,
    )
    assert [(row.status, row.reason, row.by) for row in rows] == [
        ("blocked", "spam", staff_id),
        ("active", "appeal granted", None),
    ]


async def test_a_deleted_account_keeps_its_status(
    account: AccountHarness,
    stub: account_pb2_grpc.AccountServiceStub,  # noqa: F811
) -> None:
    user_id = await account.register("gone")
    async with account.db.transaction() as uow:
        await store.anonymise_account(uow.conn, user_id, now=datetime.now(UTC))
    got = (await stub.GetAccount(account_pb2.GetAccountRequest(user_id=user_id), timeout=5)).account
    assert got.status == account_pb2.ACCOUNT_STATUS_DELETED and "gone" not in got.username
    for status in (ACTIVE, BLOCKED):
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await stub.SetAccountStatus(
                account_pb2.SetAccountStatusRequest(user_id=user_id, status=status, reason="x"), timeout=5
            )
        assert (failed.value.code(), reason_of(failed.value)) == (grpc.StatusCode.ABORTED, "ACCOUNT_DELETED")
    # staff cannot set "deleted" either: that is the user's own act
    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await stub.SetAccountStatus(
            account_pb2.SetAccountStatusRequest(
                user_id=await account.register("stays"), status=account_pb2.ACCOUNT_STATUS_DELETED
            ),
            timeout=5,
        )
    assert reason_of(failed.value) == "INVALID_ACCOUNT_STATUS"
