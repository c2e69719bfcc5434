"""Ended sessions end at once: through the gateway of the embedded platform, an access token of a
session ended by logout, by `DELETE /auth/sessions/{id}`, by a password change (the other
sessions) or by a block is refused (401 INVALID_TOKEN) within about a second, although it has not
expired, while the user's live sessions and a fresh sign-in keep working."""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Awaitable, Callable

import httpx

from parovoz.protos.platform.account.v1 import account_pb2, account_pb2_grpc
from parovoz.runtime.embedded import EmbeddedPlatform
from tests.e2e.flows import new_user
from tests.service_identity import platform_service_token, service_metadata

ME = "/api/v1/users/me"
# "About a second" on two shared cores: the relay, the event log and Auth's consumer are in between.
REFUSED_WITHIN = 2.0
PROFILE_TIMEOUT = 20.0


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def sign_up(client: httpx.AsyncClient) -> tuple[str, dict[str, str]]:
    user = new_user()
    r = await client.post("/api/v1/auth/register", json=user)
    assert r.status_code == 201, r.text
    return r.json()["data"]["id"], {"login": user["email"], "password": user["password"]}


async def sign_in(client: httpx.AsyncClient, credentials: dict[str, str]) -> dict:
    r = await client.post("/api/v1/auth/login", json=credentials)
    assert r.status_code == 200, r.text
    return r.json()["data"]


async def profile_ok(client: httpx.AsyncClient, token: str) -> None:
    """`GET /users/me` answers 200 (once Account has made the account from the registration)."""
    deadline = time.monotonic() + PROFILE_TIMEOUT
    while True:
        r = await client.get(ME, headers=bearer(token))
        if r.status_code == 200:
            return
        assert r.status_code == 404 and time.monotonic() < deadline, r.text
        await asyncio.sleep(0.05)


async def refused_after(client: httpx.AsyncClient, token: str, limit: float = REFUSED_WITHIN) -> float:
    """Seconds until the gateway refuses `token` with 401 INVALID_TOKEN; fails after `limit`."""
    started = time.monotonic()
    while True:
        r = await client.get(ME, headers=bearer(token))
        elapsed = time.monotonic() - started
        if r.status_code == 401:
            assert r.json()["errors"][0]["code"] == "INVALID_TOKEN"
            return elapsed
        assert r.status_code == 200, r.text
        assert elapsed < limit, f"the ended session's token still works after {elapsed:.2f}s"
        await asyncio.sleep(0.02)


async def set_status(
    stub: account_pb2_grpc.AccountServiceStub, metadata: object, **request: object
) -> object:
    """Account's staff action, called as the Admin service from a clean context: the in-process
    gateway calls above leave the user's token in `chassis.context`, and an outgoing gRPC call
    would act for that user (whose token is by now refused)."""

    async def call() -> object:
        return await stub.SetAccountStatus(
            account_pb2.SetAccountStatusRequest(**request), metadata=metadata, timeout=5
        )

    done: Awaitable[object] = asyncio.create_task(call(), context=contextvars.Context())
    return await done


async def test_logout_ends_the_access_token_at_once(gateway_client: Callable[..., httpx.AsyncClient]) -> None:
    async with gateway_client() as client:
        _user_id, credentials = await sign_up(client)
        session = await sign_in(client, credentials)
        access = session["attributes"]["accessToken"]
        await profile_ok(client, access)

        r = await client.post(
            "/api/v1/auth/logout", json={"refreshToken": session["attributes"]["refreshToken"]}
        )
        assert r.status_code == 204, r.text
        await refused_after(client, access)
        # refused for good, not for a moment
        r = await client.get(ME, headers=bearer(access))
        assert r.status_code == 401 and "session ended" in r.headers["www-authenticate"]

        fresh = await sign_in(client, credentials)
        await profile_ok(client, fresh["attributes"]["accessToken"])


async def test_ending_one_session_leaves_the_others(gateway_client: Callable[..., httpx.AsyncClient]) -> None:
    async with gateway_client() as client:
        _user_id, credentials = await sign_up(client)
        ended, kept = await sign_in(client, credentials), await sign_in(client, credentials)
        await profile_ok(client, ended["attributes"]["accessToken"])
        kept_access = kept["attributes"]["accessToken"]

        r = await client.delete(f"/api/v1/auth/sessions/{ended['id']}", headers=bearer(kept_access))
        assert r.status_code == 204, r.text
        await refused_after(client, ended["attributes"]["accessToken"])
        assert (await client.get(ME, headers=bearer(kept_access))).status_code == 200


async def test_a_password_change_ends_the_other_sessions(
    gateway_client: Callable[..., httpx.AsyncClient],
) -> None:
    async with gateway_client() as client:
        _user_id, credentials = await sign_up(client)
        other, mine = await sign_in(client, credentials), await sign_in(client, credentials)
        await profile_ok(client, other["attributes"]["accessToken"])
        my_access = mine["attributes"]["accessToken"]

        new_password = "brand-new-secret-7"
        r = await client.post(
            "/api/v1/auth/password/change",
            json={"currentPassword": credentials["password"], "newPassword": new_password},
            headers=bearer(my_access),
        )
        assert r.status_code == 204, r.text
        await refused_after(client, other["attributes"]["accessToken"])
        assert (await client.get(ME, headers=bearer(my_access))).status_code == 200
        fresh = await sign_in(client, {**credentials, "password": new_password})
        await profile_ok(client, fresh["attributes"]["accessToken"])


async def test_a_block_ends_every_session(
    embedded_platform: EmbeddedPlatform, gateway_client: Callable[..., httpx.AsyncClient]
) -> None:
    stub = account_pb2_grpc.AccountServiceStub(embedded_platform._channels["account"])
    as_admin = service_metadata(await platform_service_token(embedded_platform, "admin"))
    async with gateway_client() as client:
        user_id, credentials = await sign_up(client)
        session = await sign_in(client, credentials)
        access = session["attributes"]["accessToken"]
        await profile_ok(client, access)

        blocked = await set_status(
            stub, as_admin, user_id=user_id, status=account_pb2.ACCOUNT_STATUS_BLOCKED, reason="fraud"
        )
        assert blocked.changed  # type: ignore[attr-defined]
        # two event hops: Account's block reaches Auth, Auth's revocation reaches the list
        await refused_after(client, access, limit=2 * REFUSED_WITHIN)

        await set_status(stub, as_admin, user_id=user_id, status=account_pb2.ACCOUNT_STATUS_ACTIVE)
        deadline = time.monotonic() + PROFILE_TIMEOUT
        while (r := await client.post("/api/v1/auth/login", json=credentials)).status_code != 200:
            assert r.status_code == 403 and time.monotonic() < deadline, r.text
            await asyncio.sleep(0.1)
        await profile_ok(client, r.json()["data"]["attributes"]["accessToken"])
        # the old token stays refused after the unblock
        assert (await client.get(ME, headers=bearer(access))).status_code == 401
