"""Blocking end to end in embedded mode: staff blocks over Account's gRPC (as the Admin service, with
a service token signed by the platform's Auth), the event reaches Auth through the broker, sign-in
through the gateway is refused, unblocking lets the user back in."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import grpc
import httpx
import pytest

from parovoz.protos.platform.account.v1 import account_pb2, account_pb2_grpc
from parovoz.runtime.embedded import EmbeddedPlatform
from tests.e2e.flows import new_user
from tests.service_identity import platform_service_token, service_metadata

TIMEOUT = 20.0


async def _account_exists(
    stub: account_pb2_grpc.AccountServiceStub, user_id: str, metadata: tuple[tuple[str, str], ...]
) -> None:
    """Wait for Account to handle the registration (it arrives as an event)."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        try:
            await stub.GetAccount(
                account_pb2.GetAccountRequest(user_id=user_id), metadata=metadata, timeout=5
            )
            return
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.NOT_FOUND or time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.05)


async def _login_until(client: httpx.AsyncClient, credentials: dict[str, str], status: int) -> httpx.Response:
    """Sign in until the answer has `status` (Auth applies the event shortly after it is emitted)."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        response = await client.post("/api/v1/auth/login", json=credentials)
        if response.status_code == status:
            return response
        assert time.monotonic() < deadline, f"still {response.status_code}: {response.text}"
        await asyncio.sleep(0.1)


async def test_block_then_unblock_through_the_platform(
    embedded_platform: EmbeddedPlatform, gateway_client: Callable[..., httpx.AsyncClient]
) -> None:
    stub = account_pb2_grpc.AccountServiceStub(embedded_platform._channels["account"])
    as_admin = service_metadata(await platform_service_token(embedded_platform, "admin"))
    async with gateway_client() as client:
        user = new_user()
        r = await client.post("/api/v1/auth/register", json=user)
        assert r.status_code == 201, r.text
        user_id = r.json()["data"]["id"]
        credentials = {"login": user["email"], "password": user["password"]}
        r = await client.post("/api/v1/auth/login", json=credentials)
        assert r.status_code == 200, r.text
        refresh = r.json()["data"]["attributes"]["refreshToken"]
        await _account_exists(stub, user_id, as_admin)

        # without the Admin service's token the staff action is refused
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.SetAccountStatus(
                account_pb2.SetAccountStatusRequest(
                    user_id=user_id, status=account_pb2.ACCOUNT_STATUS_BLOCKED, reason="x"
                ),
                metadata=service_metadata(await platform_service_token(embedded_platform, "account")),
                timeout=5,
            )
        assert caught.value.code() is grpc.StatusCode.PERMISSION_DENIED

        # the staff action (what Admin will call)
        blocked = await stub.SetAccountStatus(
            account_pb2.SetAccountStatusRequest(
                user_id=user_id, status=account_pb2.ACCOUNT_STATUS_BLOCKED, reason="chargeback fraud"
            ),
            metadata=as_admin,
            timeout=5,
        )
        assert blocked.changed and blocked.account.status == account_pb2.ACCOUNT_STATUS_BLOCKED

        refused = await _login_until(client, credentials, 403)
        assert refused.json()["errors"][0]["code"] == "ACCOUNT_BLOCKED"
        r = await client.post("/api/v1/auth/refresh-token", json={"refreshToken": refresh})
        assert r.status_code in (401, 403), r.text
        # a blocked profile is hidden from the public
        assert (await client.get(f"/api/v1/users/{user_id}")).status_code == 404

        unblocked = await stub.SetAccountStatus(
            account_pb2.SetAccountStatusRequest(user_id=user_id, status=account_pb2.ACCOUNT_STATUS_ACTIVE),
            metadata=as_admin,
            timeout=5,
        )
        assert unblocked.changed and unblocked.account.status == account_pb2.ACCOUNT_STATUS_ACTIVE
        await _login_until(client, credentials, 200)
