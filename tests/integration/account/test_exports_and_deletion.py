"""Data exports and account deletion over real PostgreSQL, with Auth's gRPC answers played by a
fake client (Auth's side has its own tests; the e2e tests run both together)."""

from __future__ import annotations

import asyncio
import io
import uuid
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from parovoz.chassis.errors import ApiError
from parovoz.services.account import export_job, export_store
from parovoz.services.account.domain import exports
from tests.integration.account.conftest import AccountHarness
from tests.integration.account.test_status_and_events import outbox


class FakeAuth:
    """Answers like Auth's `VerifyUserCredentials` / `ExportUserData` would."""

    def __init__(self, password: str = "right-password") -> None:
        self.password = password
        self.export_failures = 0
        self.verified: list[tuple[str, str | None]] = []

    async def verify_user_credentials(
        self, user_id: str, *, password: str, code: str | None, session_id: str | None
    ) -> str:
        self.verified.append((user_id, session_id))
        if password != self.password:
            raise ApiError(401, "INVALID_CURRENT_PASSWORD", pointer="/data/attributes/password")
        return "password"

    async def export_user_data(self, user_id: str) -> dict[str, Any]:
        if self.export_failures > 0:
            self.export_failures -= 1
            raise ApiError(503, "SERVICE_UNAVAILABLE", params={"service": "auth"})
        return {"user": {"id": user_id, "email": "from-auth@example.ru"}, "sessions": []}


@pytest.fixture
def fake_auth(account: AccountHarness) -> FakeAuth:
    fake = FakeAuth()
    account.ctx.extras["account.auth_client"] = fake
    return fake


def codes(response) -> list[str]:
    return [e["code"] for e in response.json()["errors"]]


async def _make_due(account: AccountHarness) -> None:
    """Let retries happen now (their back-off is seconds long)."""
    await account.sql("UPDATE data_exports SET next_attempt_at = now() - interval '1 second'")


async def test_export_is_built_by_the_job_and_downloaded(
    account: AccountHarness, fake_auth: FakeAuth
) -> None:
    user_id = await account.register("anna")
    me = account.auth(user_id)
    await account.client.patch("/api/v1/users/me", headers=me, json={"bio": "моё описание"})

    r = await account.client.post("/api/v1/users/me/data-exports", headers=me)
    assert r.status_code == 202, r.text
    export = r.json()["data"]
    assert export["type"] == "data-exports"
    assert export["attributes"]["status"] == "pending" and export["attributes"]["downloadUrl"] is None
    location = r.headers["location"]
    assert location == f"/api/v1/users/me/data-exports/{export['id']}"
    # not ready yet
    r = await account.client.get(f"{location}/file", headers=me)
    assert r.status_code == 409 and codes(r) == ["DATA_EXPORT_NOT_READY"]
    # one in flight per user
    r = await account.client.post("/api/v1/users/me/data-exports", headers=me)
    assert r.status_code == 409 and codes(r) == ["DATA_EXPORT_IN_PROGRESS"]

    assert await export_job.run_exports(account.ctx) == 1
    r = await account.client.get(location, headers=me)
    assert r.status_code == 200, r.text
    attributes = r.json()["data"]["attributes"]
    assert attributes["status"] == "completed"
    assert attributes["downloadUrl"] == f"{location}/file"
    completed = datetime.fromisoformat(attributes["completedAt"])
    assert datetime.fromisoformat(attributes["expiresAt"]) - completed == timedelta(days=7)

    r = await account.client.get(f"{location}/file", headers=me)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/zip"
    assert r.headers["content-disposition"].startswith("attachment;")
    with zipfile.ZipFile(io.BytesIO(r.content)) as archive:
        assert sorted(archive.namelist()) == ["README.txt", "account.json", "auth.json"]
        account_json = orjson.loads(archive.read("account.json"))
        auth_json = orjson.loads(archive.read("auth.json"))
    assert account_json["profile"]["id"] == user_id and account_json["profile"]["bio"] == "моё описание"
    assert set(account_json) == {"profile", "privacy", "settings", "consents", "statusHistory"}
    assert auth_json["user"]["email"] == "from-auth@example.ru"

    # another user sees none of it: the same 404 as an unknown id
    stranger = account.auth(await account.register("boris"))
    for path in (location, f"{location}/file"):
        r = await account.client.get(path, headers=stranger)
        assert r.status_code == 404 and codes(r) == ["DATA_EXPORT_NOT_FOUND"], path
    for bad in ("nope", str(uuid.uuid4())):
        r = await account.client.get(f"/api/v1/users/me/data-exports/{bad}", headers=me)
        assert r.status_code == 404, bad

    # expired: gone from the download, and purged by the housekeeping job
    await account.sql("UPDATE data_exports SET expires_at = now() - interval '1 second'")
    r = await account.client.get(f"{location}/file", headers=me)
    assert r.status_code == 404 and codes(r) == ["DATA_EXPORT_NOT_FOUND"]
    await export_job.purge_exports(account.ctx)
    assert await account.sql("SELECT id FROM data_exports") == []


async def test_daily_limit(account: AccountHarness, fake_auth: FakeAuth) -> None:
    user_id = await account.register("vlad")
    me = account.auth(user_id)
    for _ in range(exports.DAILY_LIMIT):
        r = await account.client.post("/api/v1/users/me/data-exports", headers=me)
        assert r.status_code == 202, r.text
        await export_job.run_exports(account.ctx)
    r = await account.client.post("/api/v1/users/me/data-exports", headers=me)
    assert r.status_code == 429, r.text
    assert codes(r) == ["DATA_EXPORT_LIMIT_REACHED"]
    assert 0 < int(r.headers["retry-after"]) <= 86401
    rows = await account.sql("SELECT count(*) AS n FROM data_exports WHERE user_id = :id", id=user_id)
    assert rows[0].n == exports.DAILY_LIMIT


async def test_concurrent_requests_make_one_export(account: AccountHarness, fake_auth: FakeAuth) -> None:
    user_id = await account.register("gena")
    me = account.auth(user_id)
    answers = await asyncio.gather(
        *(account.client.post("/api/v1/users/me/data-exports", headers=me) for _ in range(4))
    )
    assert sorted(r.status_code for r in answers) == [202, 409, 409, 409]


async def test_failed_runs_are_retried_then_failed(account: AccountHarness, fake_auth: FakeAuth) -> None:
    user_id = await account.register("ilya")
    me = account.auth(user_id)
    location = (await account.client.post("/api/v1/users/me/data-exports", headers=me)).headers["location"]

    fake_auth.export_failures = 1
    assert await export_job.run_exports(account.ctx) == 0
    assert (await account.client.get(location, headers=me)).json()["data"]["attributes"][
        "status"
    ] == "pending"
    # backing off: not claimed again at once
    assert await export_job.run_exports(account.ctx) == 0
    await _make_due(account)
    assert await export_job.run_exports(account.ctx) == 1
    assert (await account.client.get(location, headers=me)).json()["data"]["attributes"][
        "status"
    ] == "completed"

    other = account.auth(await account.register("kira"))
    location = (await account.client.post("/api/v1/users/me/data-exports", headers=other)).headers["location"]
    fake_auth.export_failures = exports.MAX_ATTEMPTS
    for _ in range(exports.MAX_ATTEMPTS):
        await _make_due(account)
        assert await export_job.run_exports(account.ctx) == 0
    r = await account.client.get(location, headers=other)
    assert r.json()["data"]["attributes"]["status"] == "failed"
    # a failed export is no longer in flight: the user may ask again
    assert (await account.client.post("/api/v1/users/me/data-exports", headers=other)).status_code == 202


async def test_claims_are_shared_and_a_crashed_run_is_taken_again(
    account: AccountHarness, fake_auth: FakeAuth
) -> None:
    users = [await account.register(f"user{i}") for i in range(3)]
    for user_id in users:
        assert (
            await account.client.post("/api/v1/users/me/data-exports", headers=account.auth(user_id))
        ).status_code == 202
    now = datetime.now(UTC)
    # two replicas claim at once: SKIP LOCKED gives each its own rows, none twice
    async with account.db.transaction() as first, account.db.transaction() as second:
        mine = await export_store.claim(first.conn, now, 2)
        theirs = await export_store.claim(second.conn, now, 2)
    assert len(mine) == 2 and len(theirs) == 1
    assert not {c.id for c in mine} & {c.id for c in theirs}

    # every run "crashed": nothing is claimable until the lease runs out...
    assert await export_job.run_exports(account.ctx) == 0
    await account.sql("UPDATE data_exports SET lease_until = now() - interval '1 second'")
    # ...then they are built, and a late write of a crashed run changes nothing
    assert await export_job.run_exports(account.ctx) == 3
    async with account.db.transaction() as uow:
        assert not await export_store.complete(uow.conn, mine[0], b"stale", datetime.now(UTC))
    rows = await account.sql("SELECT status, attempts FROM data_exports")
    assert {(row.status, row.attempts) for row in rows} == {("completed", 2)}


async def test_deletion_with_a_wrong_password_changes_nothing(
    account: AccountHarness, fake_auth: FakeAuth
) -> None:
    user_id = await account.register("lev")
    me = account.auth(user_id)
    r = await account.client.request("DELETE", "/api/v1/users/me", headers=me, json={"password": "wrong"})
    assert r.status_code == 401, r.text
    assert r.json()["errors"][0]["code"] == "INVALID_CURRENT_PASSWORD"
    assert r.json()["errors"][0]["source"] == {"pointer": "/data/attributes/password"}
    assert (await account.client.get("/api/v1/users/me", headers=me)).status_code == 200
    assert await outbox(account, "account.user.deleted") == []
    for body in ({}, {"password": 5}, {"password": "x", "roles": []}):
        r = await account.client.request("DELETE", "/api/v1/users/me", headers=me, json=body)
        assert r.status_code in (401, 422), (body, r.text)
    assert (await account.client.get("/api/v1/users/me", headers=me)).status_code == 200


async def test_deletion_anonymises_withdraws_and_emits(account: AccountHarness, fake_auth: FakeAuth) -> None:
    user_id = await account.register("mila")
    me = account.auth(user_id)
    await account.client.patch(
        "/api/v1/users/me",
        headers=me,
        json={
            "displayName": "Мила",
            "bio": "bio",
            "country": "RU",
            "birthDate": "2000-01-01",
            "avatarUrl": "https://a.ru/x.png",
        },
    )
    await account.client.put("/api/v1/users/me/consents/marketing", headers=me)
    await account.client.post("/api/v1/users/me/data-exports", headers=me)

    r = await account.client.request(
        "DELETE", "/api/v1/users/me", headers=me, json={"password": "right-password"}
    )
    assert r.status_code == 204, r.text
    assert fake_auth.verified[-1][0] == user_id

    for path in ("/api/v1/users/me", f"/api/v1/users/{user_id}", "/api/v1/users/me/privacy"):
        r = await account.client.get(path, headers=me)
        assert r.status_code == 404 and codes(r) == ["ACCOUNT_NOT_FOUND"], path
    staff = account.auth(str(uuid.uuid4()), roles=("user", "admin"))
    assert (await account.client.get(f"/api/v1/users/{user_id}", headers=staff)).status_code == 404

    rows = await account.sql(
        "SELECT a.username, a.email, a.status, p.display_name, p.bio, p.avatar_url, p.country, p.birth_date"
        " FROM accounts a JOIN profiles p ON p.user_id = a.id WHERE a.id = :id",
        id=user_id,
    )
    row = rows[0]
    assert row.status == "deleted"
    assert "mila" not in row.username and "mila" not in row.email
    assert (row.bio, row.avatar_url, row.country, row.birth_date) == (None, None, None, None)
    assert row.display_name != "Мила"
    active = await account.sql(
        "SELECT count(*) AS n FROM consents WHERE user_id = :id AND withdrawn_at IS NULL", id=user_id
    )
    assert active[0].n == 0
    assert await account.sql("SELECT id FROM data_exports WHERE user_id = :id", id=user_id) == []

    events = await outbox(account, "account.user.deleted")
    assert len(events) == 1
    assert events[0].type == "com.parovoz.account.user.deleted.v1" and events[0].subject == user_id
    assert events[0].data["userId"] == user_id and events[0].data["deletedAt"]

    # gone for good: a second deletion finds nothing, and neither does anything else of /me
    r = await account.client.request(
        "DELETE", "/api/v1/users/me", headers=me, json={"password": "right-password"}
    )
    assert r.status_code == 404
    assert len(await outbox(account, "account.user.deleted")) == 1


async def test_deletion_attempts_are_rate_limited(account: AccountHarness, fake_auth: FakeAuth) -> None:
    user_id = await account.register("nina")
    me = account.auth(user_id)
    statuses = []
    for _ in range(7):
        r = await account.client.request("DELETE", "/api/v1/users/me", headers=me, json={"password": "guess"})
        statuses.append(r.status_code)
    assert statuses[:5] == [401] * 5 and statuses[5:] == [429, 429]
    assert len(fake_auth.verified) == 5
