"""Distributed mode end to end: gateway, Auth and Account as separate processes on PostgreSQL,
a Kafka-protocol broker and Redis; plus crash safety of the outbox between commit and publish."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest

from parovoz.chassis.security.service_credentials import credential_line, new_service_secret
from tests import infra
from tests.e2e import processes
from tests.e2e.flows import new_user, signup_flow, wait_profile

pytestmark = pytest.mark.slow

ADMIN_SECRET = new_service_secret()


@dataclass
class Cluster:
    env: dict[str, str]
    log_dir: Path
    procs: dict[str, subprocess.Popen[bytes]]
    base: str

    def start(self, name: str) -> None:
        env = dict(self.env)
        port_key = {"gateway": "GATEWAY", "auth": "AUTH", "account": "ACCOUNT"}[name]
        env["PAROVOZ_HTTP_PORT"] = env[f"_{port_key}_HTTP_PORT"]
        # each service's own secret (Auth needs none: it signs its own service tokens)
        if f"_{port_key}_SERVICE_SECRET" in env:
            env["PAROVOZ_SERVICE_SECRET"] = env[f"_{port_key}_SERVICE_SECRET"]
        if name != "gateway":
            env["PAROVOZ_GRPC_PORT"] = env[f"_{port_key}_GRPC_PORT"]
        proc = processes.spawn(["serve", name], env, self.log_dir / f"{name}.log")
        self.procs[name] = proc
        processes.wait_ready(f"http://127.0.0.1:{env['PAROVOZ_HTTP_PORT']}", proc=proc)

    def kill(self, name: str) -> None:
        processes.stop(self.procs.pop(name), kill=True)

    def stop_all(self) -> None:
        for name in list(self.procs):
            processes.stop(self.procs.pop(name))


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory,
    make_database: Callable[[str], Awaitable[str]],
    redis_url: str,
) -> Iterator[Cluster]:
    log_dir = tmp_path_factory.mktemp("distributed")
    auth_db = asyncio.run(make_database("auth"))
    account_db = asyncio.run(make_database("account"))
    ports = {k: str(infra.free_port()) for k in ("GATEWAY", "AUTH", "ACCOUNT")}
    grpc = {k: str(infra.free_port()) for k in ("AUTH", "ACCOUNT")}
    # the way an operator makes them: a secret for Account, Auth's `name:sha256` line for it
    account_secret, account_line = _service_credential("account")
    with infra.kafka() as bootstrap:
        env = {
            "PAROVOZ_AUTH_DATABASE_URL": auth_db,
            "PAROVOZ_ACCOUNT_DATABASE_URL": account_db,
            "PAROVOZ_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "PAROVOZ_KAFKA_IDEMPOTENCE": "false",
            "PAROVOZ_REDIS_URL": redis_url,
            "PAROVOZ_AUTH_GRPC": f"127.0.0.1:{grpc['AUTH']}",
            "PAROVOZ_ACCOUNT_GRPC": f"127.0.0.1:{grpc['ACCOUNT']}",
            "PAROVOZ_AUTH_HTTP": f"http://127.0.0.1:{ports['AUTH']}",
            "PAROVOZ_ACCOUNT_HTTP": f"http://127.0.0.1:{ports['ACCOUNT']}",
            "PAROVOZ_LOG_LEVEL": "INFO",
            # Account's credential, and the Admin service's, which the tests play
            "PAROVOZ_AUTH_SERVICE_CREDENTIALS": f"{account_line},{credential_line('admin', ADMIN_SECRET)}",
            "_ACCOUNT_SERVICE_SECRET": account_secret,
            **{f"_{k}_HTTP_PORT": v for k, v in ports.items()},
            **{f"_{k}_GRPC_PORT": v for k, v in grpc.items()},
        }
        c = Cluster(env, log_dir, {}, f"http://127.0.0.1:{ports['GATEWAY']}")
        try:
            for name in ("auth", "account", "gateway"):
                c.start(name)
            yield c
        finally:
            c.stop_all()


def _service_credential(name: str) -> tuple[str, str]:
    out = subprocess.run(
        [sys.executable, "-m", "parovoz", "admin", "service-credential", name],
        capture_output=True,
        text=True,
        check=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("PAROVOZ_")},
    ).stdout.split()
    secret, line = out
    assert line.startswith(f"{name}:") and len(line) == len(name) + 65
    return secret, line


def test_signup_flow_across_processes(cluster: Cluster) -> None:
    with httpx.Client(base_url=cluster.base, timeout=10) as client:
        signup_flow(client)
        r = client.get("/readyz")
        assert r.status_code == 200
        # one Date (the gateway's), no software banner from either hop
        r = client.get("/api/v1/auth/jwks")
        assert len(r.headers.get_list("date")) == 1
        assert "server" not in r.headers


def test_a_logged_out_sessions_token_is_refused_by_the_gateway_process(cluster: Cluster) -> None:
    """Auth's revocation event → Auth's consumer → Redis (pub/sub) → the gateway process's list."""
    with httpx.Client(base_url=cluster.base, timeout=10) as client:
        user = new_user()
        assert client.post("/api/v1/auth/register", json=user).status_code == 201
        credentials = {"login": user["email"], "password": user["password"]}
        tokens = client.post("/api/v1/auth/login", json=credentials).json()["data"]["attributes"]
        wait_profile(client, tokens["accessToken"])
        r = client.post("/api/v1/auth/logout", json={"refreshToken": tokens["refreshToken"]})
        assert r.status_code == 204, r.text
        ended, old = time.monotonic(), {"Authorization": f"Bearer {tokens['accessToken']}"}
        while (r := client.get("/api/v1/users/me", headers=old)).status_code == 200:
            assert time.monotonic() - ended < 3.0, "the gateway still serves the logged-out session's token"
            time.sleep(0.02)
        assert r.status_code == 401 and r.json()["errors"][0]["code"] == "INVALID_TOKEN"
        fresh = client.post("/api/v1/auth/login", json=credentials).json()["data"]["attributes"]
        wait_profile(client, fresh["accessToken"])


async def _hold_relay_lock(database_url: str) -> asyncpg.Connection:
    """Take the outbox relay's advisory lock, so that Auth's relay cannot publish."""
    from parovoz.chassis.events.outbox import RELAY_LOCK_KEY

    conn = await asyncpg.connect(database_url)
    await conn.execute("SELECT pg_advisory_lock($1)", RELAY_LOCK_KEY)
    return conn


def _account_rows(database_url: str, user_id: str) -> int:
    async def count() -> int:
        conn = await asyncpg.connect(database_url)
        try:
            return int(await conn.fetchval("SELECT count(*) FROM accounts WHERE id = $1::uuid", user_id))
        finally:
            await conn.close()

    return asyncio.run(count())


def test_event_survives_a_crash_between_commit_and_publish(cluster: Cluster) -> None:
    auth_db = cluster.env["PAROVOZ_AUTH_DATABASE_URL"]
    account_db = cluster.env["PAROVOZ_ACCOUNT_DATABASE_URL"]
    loop = asyncio.new_event_loop()
    lock = loop.run_until_complete(_hold_relay_lock(auth_db))
    try:
        with httpx.Client(base_url=cluster.base, timeout=10) as client:
            user = new_user()
            r = client.post("/api/v1/auth/register", json=user)
            assert r.status_code == 201, r.text
            user_id = r.json()["data"]["id"]
            # The user row and its event are committed; the relay is held back, so nothing was sent.
            time.sleep(1.0)
            assert _account_rows(account_db, user_id) == 0
            cluster.kill("auth")
    finally:
        loop.run_until_complete(lock.close())
        loop.close()

    cluster.start("auth")
    with httpx.Client(base_url=cluster.base, timeout=10) as client:
        r = client.post("/api/v1/auth/login", json={"login": user["email"], "password": user["password"]})
        assert r.status_code == 200, r.text
        profile = wait_profile(client, r.json()["data"]["attributes"]["accessToken"])
        assert profile["id"] == user_id
    time.sleep(1.0)
    assert _account_rows(account_db, user_id) == 1


def test_events_on_the_wire_are_valid_cloudevents(cluster: Cluster) -> None:
    """Every record on every registered topic: CloudEvents 1.0, the registry's type and topic,
    partition key = subject."""
    from aiokafka import AIOKafkaConsumer

    from parovoz.chassis.events import registry
    from parovoz.chassis.events.cloudevents import CloudEvent

    with httpx.Client(base_url=cluster.base, timeout=10) as client:
        assert client.post("/api/v1/auth/register", json=new_user()).status_code == 201

    async def read_all() -> list:
        topics = sorted({d.topic for d in registry.all_events()})
        consumer = AIOKafkaConsumer(
            bootstrap_servers=cluster.env["PAROVOZ_KAFKA_BOOTSTRAP_SERVERS"],
            group_id=None,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            existing = [t for t in topics if t in await consumer.topics()]
            consumer.subscribe(existing)
            records = []
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                batch = await consumer.getmany(timeout_ms=500)
                for recs in batch.values():
                    records.extend(recs)
                if records and not batch:
                    break
            return records
        finally:
            await consumer.stop()

    records = asyncio.run(read_all())
    assert records, "no event reached the broker"
    for record in records:
        event = CloudEvent.from_json(record.value)
        definition = registry.by_type(event.type)
        assert definition is not None, event.type
        assert record.topic == definition.topic
        assert record.key.decode() == event.subject
        assert event.specversion == "1.0"
        assert event.source.startswith(f"/{definition.owner}")
        definition.data.model_validate(event.data)


def test_services_prove_who_they_are_across_processes(cluster: Cluster) -> None:
    """Tokens Auth issues (for a secret) are checked by Account, in another process, with the JWKS."""
    import grpc

    from parovoz.chassis.rpc.errors import api_error_from
    from parovoz.protos.platform.account.v1 import account_pb2, account_pb2_grpc
    from parovoz.protos.platform.auth.v1 import auth_pb2, auth_pb2_grpc
    from tests.service_identity import service_metadata

    async def scenario() -> None:
        auth_channel = grpc.aio.insecure_channel(cluster.env["PAROVOZ_AUTH_GRPC"])
        account_channel = grpc.aio.insecure_channel(cluster.env["PAROVOZ_ACCOUNT_GRPC"])
        try:
            auth = auth_pb2_grpc.AuthServiceStub(auth_channel)
            account = account_pb2_grpc.AccountServiceStub(account_channel)

            async def token(service: str, secret: str) -> tuple[tuple[str, str], ...]:
                request = auth_pb2.IssueServiceTokenRequest(service=service, secret=secret)
                return service_metadata((await auth.IssueServiceToken(request, timeout=5)).token)

            lookup = account_pb2.GetAccountRequest(user_id=str(uuid.uuid4()))
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await account.GetAccount(lookup, timeout=5)
            assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED

            as_admin = await token("admin", ADMIN_SECRET)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await account.GetAccount(lookup, metadata=as_admin, timeout=5)
            assert api_error_from(caught.value).code == "ACCOUNT_NOT_FOUND"  # past the identity check

            as_account = await token("account", cluster.env["_ACCOUNT_SERVICE_SECRET"])
            block = account_pb2.SetAccountStatusRequest(
                user_id=str(uuid.uuid4()), status=account_pb2.ACCOUNT_STATUS_BLOCKED, reason="x"
            )
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await account.SetAccountStatus(block, metadata=as_account, timeout=5)
            assert caught.value.code() is grpc.StatusCode.PERMISSION_DENIED

            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await token("account", "not-the-secret")
            assert api_error_from(caught.value).code == "SERVICE_CREDENTIALS_INVALID"
        finally:
            await auth_channel.close()
            await account_channel.close()

    asyncio.run(scenario())
