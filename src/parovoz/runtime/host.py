"""One service wired to its adapters: database, broker, relay, consumers, jobs, HTTP app, gRPC servicers.

The same `ServiceHost` runs inside the embedded platform and alone under `parovoz serve`; only the
adapters handed to it differ.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

import grpc

from parovoz.chassis.config import Settings
from parovoz.chassis.db import Database
from parovoz.chassis.db.migrate import migrate
from parovoz.chassis.events import registry
from parovoz.chassis.events.brokers import Broker
from parovoz.chassis.events.consumer import EventConsumer
from parovoz.chassis.events.outbox import OutboxRelay
from parovoz.chassis.obs.logging import get_logger
from parovoz.chassis.rest.app import create_service_app
from parovoz.chassis.rest.idempotency import IdempotencyStore
from parovoz.chassis.rest.probes import ServiceApp
from parovoz.chassis.security.ratelimit import RateLimiter
from parovoz.chassis.security.revocation import MemoryRevocationList, RevocationList
from parovoz.chassis.security.tokens import TokenVerifier
from parovoz.chassis.service import GrpcRegistration, Job, ServiceContext, ServiceSpec
from parovoz.chassis.tasks import cancel

log = get_logger("parovoz.runtime")


async def _purge_idempotency_keys(ctx: ServiceContext) -> None:
    purged = await IdempotencyStore(ctx.db).purge_expired()
    if purged:
        log.info("idempotency keys purged", service=ctx.name, count=purged)


# Housekeeping of the chassis tables that every service database carries.
CHASSIS_JOBS = (Job("purge-expired-idempotency-keys", 3600.0, _purge_idempotency_keys),)


@dataclass
class ServiceHost:
    """Builds and runs one service. `start()` migrates, starts the relay, consumers and jobs."""

    spec: ServiceSpec
    settings: Settings
    database_url: str
    broker: Broker
    tokens: TokenVerifier
    limiter: RateLimiter
    channels: dict[str, grpc.aio.Channel]
    seed_demo: bool = False
    # the process's list of ended sessions (the one `tokens` consults); Auth's consumer feeds it
    revocations: RevocationList = field(default_factory=MemoryRevocationList)
    ctx: ServiceContext = field(init=False)
    app: ServiceApp = field(init=False)
    relay: OutboxRelay = field(init=False)
    consumer: EventConsumer | None = field(init=False, default=None)
    _jobs: list[asyncio.Task[None]] = field(init=False, default_factory=list)
    _started: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        db = Database(self.database_url, service=self.spec.name, pool_size=self.settings.db_pool_size)
        self.ctx = ServiceContext(
            name=self.spec.name,
            settings=self.settings,
            db=db,
            broker=self.broker,
            tokens=self.tokens,
            limiter=self.limiter,
            channels=self.channels,
            revocations=self.revocations,
        )
        self.relay = OutboxRelay(db, self.broker)
        db.add_commit_listener(self.relay.wake)
        if self.spec.subscriptions:
            self.consumer = EventConsumer(self.ctx, self.spec.subscriptions)
        self.app = create_service_app(self.spec, self.ctx, self.ready)

    def grpc_registrations(self) -> Sequence[GrpcRegistration]:
        return self.spec.grpc(self.ctx)

    async def ready(self) -> bool:
        return self._started and await self.ctx.db.ping()

    async def migrate(self) -> None:
        await migrate(self.ctx.db, self.spec.migrations)

    async def start(self) -> None:
        """Migrate, run start hooks and demo seeding, then start the relay, consumers and jobs."""
        await self.migrate()
        topics = sorted({registry.get(name).topic for name in self.spec.emits})
        if topics:
            await self.broker.ensure_topics(topics)
        if self.spec.on_start is not None:
            await self.spec.on_start(self.ctx)
        await self.relay.start()
        if self.seed_demo and self.spec.seed_demo is not None:
            await self.spec.seed_demo(self.ctx)
        if self.consumer is not None:
            await self.consumer.start()
        jobs = [*CHASSIS_JOBS, *self.spec.jobs]
        self._jobs = [asyncio.create_task(self._run_job(job), name=job.name) for job in jobs]
        self._started = True
        log.info("service started", service=self.spec.name)

    async def _run_job(self, job: Job) -> None:
        while True:
            await asyncio.sleep(job.interval)
            try:
                await job.run(self.ctx)
            except Exception:
                log.exception("job failed", service=self.spec.name, job=job.name)

    async def stop(self) -> None:
        self._started = False
        for task in self._jobs:
            await cancel(task)
        if self.consumer is not None:
            await self.consumer.stop()
        await self.relay.stop()
        await self.ctx.db.dispose()
        log.info("service stopped", service=self.spec.name)
