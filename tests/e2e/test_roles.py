"""Roles and language end to end in embedded mode: SetUserRoles over real gRPC (as the Admin
service) ends the sessions and the next token carries the roles; `parovoz admin set-roles` beside
the running platform; a language chosen in Account reaches Auth and, through the token's `lang`,
the language of error messages at the gateway."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx
import sqlalchemy as sa

from parovoz.chassis.errors import message_for
from parovoz.protos.platform.auth.v1 import auth_pb2, auth_pb2_grpc
from parovoz.runtime.embedded import EmbeddedPlatform
from tests.e2e.flows import new_user
from tests.service_identity import platform_service_token, service_metadata

TIMEOUT = 20.0


def claims_of(access: str) -> dict[str, Any]:
    payload = access.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def auth_host(platform: EmbeddedPlatform) -> Any:
    return next(host for host in platform.hosts if host.spec.name == "auth")


async def signed_up(client: httpx.AsyncClient) -> tuple[dict[str, Any], str, dict[str, Any]]:
    user = new_user()
    r = await client.post("/api/v1/auth/register", json=user)
    assert r.status_code == 201, r.text
    return user, r.json()["data"]["id"], await sign_in(client, user)


async def sign_in(client: httpx.AsyncClient, user: dict[str, Any]) -> dict[str, Any]:
    r = await client.post("/api/v1/auth/login", json={"login": user["email"], "password": user["password"]})
    assert r.status_code == 200, r.text
    return r.json()["data"]["attributes"]


async def test_set_user_roles_over_grpc_ends_sessions(
    embedded_platform: EmbeddedPlatform, gateway_client: Callable[..., httpx.AsyncClient]
) -> None:
    stub = auth_pb2_grpc.AuthServiceStub(embedded_platform._channels["auth"])
    as_admin = service_metadata(await platform_service_token(embedded_platform, "admin"))
    async with gateway_client() as client:
        user, user_id, tokens = await signed_up(client)
        assert claims_of(tokens["accessToken"])["roles"] == ["user"]
        staff_only = await client.get(
            "/api/v1/users", headers={"Authorization": f"Bearer {tokens['accessToken']}"}
        )
        assert staff_only.status_code == 403

        reply = await stub.SetUserRoles(
            auth_pb2.SetUserRolesRequest(user_id=user_id, roles=["moderator"]), metadata=as_admin, timeout=5
        )
        assert reply.changed and reply.sessions_ended == 1 and list(reply.user.roles) == ["user", "moderator"]

        r = await client.post("/api/v1/auth/refresh-token", json={"refreshToken": tokens["refreshToken"]})
        assert r.status_code == 401, r.text
        fresh = await sign_in(client, user)
        assert sorted(claims_of(fresh["accessToken"])["roles"]) == ["moderator", "user"]
        r = await client.get("/api/v1/users", headers={"Authorization": f"Bearer {fresh['accessToken']}"})
        assert r.status_code == 200, r.text  # a moderator is staff


def set_roles_cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAROVOZ_")}
    return subprocess.run(
        [sys.executable, "-m", "parovoz", "admin", "set-roles", "--database-url", database_url, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


async def test_set_roles_cli_beside_the_running_platform(
    embedded_platform: EmbeddedPlatform, gateway_client: Callable[..., httpx.AsyncClient]
) -> None:
    url = auth_host(embedded_platform).database_url
    async with gateway_client() as client:
        user, user_id, tokens = await signed_up(client)
        done = await asyncio.to_thread(
            set_roles_cli, url, "--user", user["username"], "--role", "developer", "--role", "finance"
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == [user_id, "user,developer,finance"]
        assert "1 session(s) ended" in done.stderr and "Traceback" not in done.stderr

        r = await client.post("/api/v1/auth/refresh-token", json={"refreshToken": tokens["refreshToken"]})
        assert r.status_code == 401, r.text
        fresh = await sign_in(client, user)
        assert sorted(claims_of(fresh["accessToken"])["roles"]) == ["developer", "finance", "user"]

        # the event the CLI wrote is published by the platform's relay
        query = sa.text(
            "SELECT count(*) FROM outbox WHERE topic = 'auth.user.roles.changed' AND key = :key "
            "AND published_at IS NOT NULL"
        )
        deadline = time.monotonic() + TIMEOUT
        while True:
            async with auth_host(embedded_platform).ctx.db.connect() as conn:
                if (await conn.execute(query, {"key": user_id})).scalar_one() == 1:
                    break
            assert time.monotonic() < deadline, "the roles event was never published"
            await asyncio.sleep(0.2)

    unknown = await asyncio.to_thread(set_roles_cli, url, "--user", "nobody@example.com", "--role", "admin")
    assert unknown.returncode == 1 and "USER_NOT_FOUND" in unknown.stderr and unknown.stdout == ""
    bad = await asyncio.to_thread(set_roles_cli, url, "--user", user_id, "--role", "emperor")
    assert bad.returncode == 1 and "INVALID_ROLE" in bad.stderr and "Traceback" not in bad.stderr


async def test_the_users_language_drives_error_messages_through_the_gateway(
    embedded_platform: EmbeddedPlatform, gateway_client: Callable[..., httpx.AsyncClient]
) -> None:
    missing = "/api/v1/auth/sessions/00000000-0000-4000-8000-000000000000"
    english, russian = message_for("SESSION_NOT_FOUND", "en")[0], message_for("SESSION_NOT_FOUND", "ru")[0]
    async with gateway_client() as client:
        user, _user_id, tokens = await signed_up(client)
        bearer = {"Authorization": f"Bearer {tokens['accessToken']}"}
        r = await client.delete(missing, headers=bearer)
        assert r.status_code == 404 and r.json()["errors"][0]["title"] == russian  # ru by default

        # the profile exists once Account has handled the registration
        deadline = time.monotonic() + TIMEOUT
        while (
            r := await client.patch("/api/v1/users/me", json={"language": "en"}, headers=bearer)
        ).status_code == 404:
            assert time.monotonic() < deadline, r.text
            await asyncio.sleep(0.05)
        assert r.status_code == 200, r.text

        # Auth copies it (account.user.updated.v1, then Account's GetAccount); the next token has it
        deadline = time.monotonic() + TIMEOUT
        while claims_of((fresh := await sign_in(client, user))["accessToken"]).get("lang") != "en":
            assert time.monotonic() < deadline, "the language never reached Auth"
            await asyncio.sleep(0.2)
        bearer = {"Authorization": f"Bearer {fresh['accessToken']}"}
        r = await client.delete(missing, headers=bearer)
        assert r.status_code == 404 and r.json()["errors"][0]["title"] == english
        # the client's own choice still wins
        r = await client.delete(missing, headers={**bearer, "Accept-Language": "ru"})
        assert r.json()["errors"][0]["title"] == russian
