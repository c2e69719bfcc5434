"""IdempotencyStore against a real, freshly migrated PostgreSQL database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import orjson
import pytest
from sqlalchemy import text
from starlette.responses import Response

from parovoz.chassis.db import Database, UnitOfWork
from parovoz.chassis.db.migrate import migrate
from parovoz.chassis.errors import ApiError
from parovoz.chassis.rest.idempotency import IdempotencyStore


@pytest.fixture
async def db(make_database: Callable[[str], Awaitable[str]]) -> AsyncIterator[Database]:
    database = Database(await make_database("idem"), service="t")
    await migrate(database, None)
    async with database.transaction() as uow:
        await uow.conn.execute(text("CREATE TABLE charges (id serial PRIMARY KEY, amount int NOT NULL)"))
    yield database
    await database.dispose()


async def charges(db: Database) -> int:
    async with db.connect() as conn:
        return int((await conn.execute(text("SELECT count(*) FROM charges"))).scalar_one())


def charge_handler(db: Database, calls: list[int]) -> Callable[[], Awaitable[Response]]:
    async def handler() -> Response:
        calls.append(1)
        async with db.transaction() as uow:
            await uow.conn.execute(text("INSERT INTO charges (amount) VALUES (100)"))
        return Response(
            orjson.dumps({"n": len(calls)}), 201, headers={"location": "/c/1"}, media_type="application/json"
        )

    return handler


async def test_first_response_is_replayed_for_the_same_key_and_body(db: Database) -> None:
    store, calls = IdempotencyStore(db), []
    first = await store.run("pay:u1", "k1", b'{"a":1}', charge_handler(db, calls))
    again = await store.run("pay:u1", "k1", b'{"a":1}', charge_handler(db, calls))
    assert calls == [1]
    assert await charges(db) == 1
    assert (again.status_code, again.body) == (first.status_code, first.body) == (201, b'{"n":1}')
    assert again.headers["location"] == "/c/1"
    assert again.headers["content-type"] == "application/json"
    assert again.headers["idempotent-replayed"] == "true"
    other_scope = await store.run("pay:u2", "k1", b'{"a":1}', charge_handler(db, calls))
    assert other_scope.status_code == 201
    assert calls == [1, 1]


async def test_another_body_with_the_same_key_is_422(db: Database) -> None:
    store = IdempotencyStore(db)
    await store.run("pay:u1", "k2", b'{"a":1}', charge_handler(db, []))
    with pytest.raises(ApiError) as exc:
        await store.run("pay:u1", "k2", b'{"a":2}', charge_handler(db, []))
    assert (exc.value.status, exc.value.code) == (422, "IDEMPOTENCY_KEY_REUSED")


async def test_concurrent_duplicate_is_409_while_the_first_is_in_flight(db: Database) -> None:
    store, started, release = IdempotencyStore(db), asyncio.Event(), asyncio.Event()

    async def slow() -> Response:
        started.set()
        await release.wait()
        return Response(b"{}", 201)

    first = asyncio.create_task(store.run("pay:u1", "k3", b"{}", slow))
    await started.wait()  # the key row is committed before the work starts
    async with db.connect() as conn:
        state = (await conn.execute(text("SELECT state FROM idempotency_keys WHERE key = 'k3'"))).scalar_one()
    assert state == "in_flight"
    with pytest.raises(ApiError) as exc:
        await store.run("pay:u1", "k3", b"{}", slow)
    assert (exc.value.status, exc.value.code) == (409, "IDEMPOTENCY_KEY_IN_FLIGHT")
    release.set()
    assert (await first).status_code == 201
    assert (await store.run("pay:u1", "k3", b"{}", slow)).status_code == 201


async def test_racing_duplicates_run_the_work_once(db: Database) -> None:
    store, calls = IdempotencyStore(db), []
    results = await asyncio.gather(
        *(store.run("pay:u1", "k4", b"{}", charge_handler(db, calls)) for _ in range(8)),
        return_exceptions=True,
    )
    assert calls == [1]
    assert await charges(db) == 1
    assert all(isinstance(r, Response) or (isinstance(r, ApiError) and r.status == 409) for r in results)


async def test_failed_first_attempt_releases_the_key(db: Database) -> None:
    store = IdempotencyStore(db)

    async def boom() -> Response:
        raise RuntimeError("down")

    async def unavailable() -> Response:
        return Response(b"{}", 503)

    with pytest.raises(RuntimeError):
        await store.run("pay:u1", "k5", b"{}", boom)
    assert (await store.run("pay:u1", "k5", b"{}", unavailable)).status_code == 503
    retried = await store.run("pay:u1", "k5", b"{}", charge_handler(db, []))
    assert retried.status_code == 201
    assert "idempotent-replayed" not in retried.headers


async def test_a_refusal_is_stored_and_replayed(db: Database) -> None:
    store, calls = IdempotencyStore(db), []

    async def refuse() -> Response:
        calls.append(1)
        raise ApiError(409, "CONFLICT")

    first = await store.run("pay:u1", "k6", b"{}", refuse)
    second = await store.run("pay:u1", "k6", b"{}", refuse)
    assert first.status_code == second.status_code == 409
    assert orjson.loads(second.body)["errors"][0]["code"] == "CONFLICT"
    assert calls == [1]


async def test_invalid_keys_are_400(db: Database) -> None:
    store = IdempotencyStore(db)
    for key in (None, "", "x" * 256, "has space", "ключ"):
        with pytest.raises(ApiError) as exc:
            await store.run("pay:u1", key, b"{}", charge_handler(db, []))
        assert exc.value.code == "INVALID_IDEMPOTENCY_KEY"


async def test_run_atomic_commits_work_and_answer_together(db: Database) -> None:
    store, calls = IdempotencyStore(db, lease=timedelta(milliseconds=50)), []

    async def charge(uow: UnitOfWork) -> Response:
        calls.append(1)
        await uow.conn.execute(text("INSERT INTO charges (amount) VALUES (5)"))
        return Response(b'{"ok":true}', 201)

    async def crash(uow: UnitOfWork) -> Response:
        await uow.conn.execute(text("INSERT INTO charges (amount) VALUES (5)"))
        raise RuntimeError("crash")

    with pytest.raises(RuntimeError):
        await store.run_atomic("pay:u1", "a1", b"{}", crash)
    assert await charges(db) == 0  # the crashed attempt's work rolled back and its key was released
    assert (await store.run_atomic("pay:u1", "a1", b"{}", charge)).status_code == 201
    assert (await store.run_atomic("pay:u1", "a1", b"{}", charge)).headers["idempotent-replayed"] == "true"
    assert calls == [1]
    assert await charges(db) == 1

    # A dead process leaves an in-flight row behind; after the lease it is taken over.
    async with db.transaction() as uow:
        await uow.conn.execute(
            text(
                "INSERT INTO idempotency_keys (scope, key, request_hash, state, created_at, expires_at)"
                " VALUES ('pay:u1', 'a2', encode(sha256('{}'::bytea), 'hex'), 'in_flight',"
                " now() - interval '1 minute', now() + interval '1 day')"
            )
        )
    assert (await store.run_atomic("pay:u1", "a2", b"{}", charge)).status_code == 201
    assert calls == [1, 1]


async def test_keys_are_kept_a_day_and_expired_ones_purged(db: Database) -> None:
    store = IdempotencyStore(db)
    await store.run("pay:u1", "k7", b"{}", charge_handler(db, []))
    async with db.connect() as conn:
        kept = (
            await conn.execute(
                text("SELECT expires_at - created_at >= interval '24 hours' FROM idempotency_keys")
            )
        ).scalar_one()
    assert kept is True
    assert await store.purge_expired() == 0
    async with db.transaction() as uow:
        await uow.conn.execute(text("UPDATE idempotency_keys SET expires_at = now() - interval '1 second'"))
    assert await store.purge_expired() == 1
    calls: list[int] = []
    await store.run("pay:u1", "k7", b'{"other":1}', charge_handler(db, calls))  # an expired key is free again
    assert calls == [1]
