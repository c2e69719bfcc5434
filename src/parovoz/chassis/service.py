"""What a service is (`ServiceSpec`) and what the runtime hands it (`ServiceContext`).

A service package exports one `SPEC`. The runtime (embedded or `parovoz serve`) builds the
context from configuration (database URL, broker, Redis, peer addresses) and wires the spec's
routes, gRPC servicers, subscriptions and jobs. Business code never learns which mode it runs in.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from parovoz.chassis.security.revocation import MemoryRevocationList, RevocationList

if TYPE_CHECKING:
    import grpc
    from fastapi import APIRouter

    from parovoz.chassis.config import Settings
    from parovoz.chassis.db import Database, UnitOfWork
    from parovoz.chassis.events.brokers import Broker
    from parovoz.chassis.events.cloudevents import CloudEvent
    from parovoz.chassis.security.ratelimit import RateLimiter
    from parovoz.chassis.security.tokens import IssuedToken, TokenVerifier


@dataclass
class ServiceContext:
    """Everything a service's adapters need at run time; built by the runtime."""

    name: str
    settings: Settings
    db: Database
    broker: Broker
    tokens: TokenVerifier
    limiter: RateLimiter
    # peer service name -> gRPC channel (with the chassis client interceptors installed)
    channels: dict[str, grpc.aio.Channel] = field(default_factory=dict)
    # free-form slot for the service's own long-lived objects (adapters, caches)
    extras: dict[str, Any] = field(default_factory=dict)
    # ended sessions whose access tokens `tokens` refuses; the runtime shares one per process
    revocations: RevocationList = field(default_factory=MemoryRevocationList)

    def channel(self, peer: str) -> grpc.aio.Channel:
        return self.channels[peer]


# handler(ctx, uow, event): runs inside the consumer's transaction, with the inbox row written
# in the same transaction, so a redelivered event changes nothing.
EventHandler = Callable[["ServiceContext", "UnitOfWork", "CloudEvent"], Awaitable[None]]


@dataclass(frozen=True)
class Subscription:
    """A service consumes event `event` (registered name, e.g. `auth.user.registered.v1`)."""

    event: str
    handler: EventHandler


@dataclass(frozen=True)
class GrpcRegistration:
    """A servicer and the generated `add_XServicer_to_server` function; `name` is the full service name."""

    name: str
    servicer: object
    add_to_server: Callable[[object, Any], None]


@dataclass(frozen=True)
class Job:
    """A periodic background job (e.g. a cleanup), run every `interval` seconds."""

    name: str
    interval: float
    run: Callable[[ServiceContext], Awaitable[None]]


@dataclass(frozen=True)
class ServiceSpec:
    """What a service is: its routes, its gRPC servicers, its events, its schema history."""

    name: str  # "auth"
    title: str  # "Auth"
    http_prefixes: tuple[str, ...]  # gateway routes, e.g. ("/api/v1/auth",)
    migrations: Path | None  # folder of the service's Alembic versions
    router: Callable[[ServiceContext], APIRouter]
    grpc: Callable[[ServiceContext], Sequence[GrpcRegistration]] = lambda ctx: ()
    subscriptions: Sequence[Subscription] = ()
    emits: Sequence[str] = ()  # registered event names this service produces
    rpc_peers: Sequence[str] = ()  # services whose gRPC API it calls
    jobs: Sequence[Job] = ()
    on_start: Callable[[ServiceContext], Awaitable[None]] | None = None
    seed_demo: Callable[[ServiceContext], Awaitable[None]] | None = None
    # How the service gets its own gRPC service tokens; None (every service but Auth): it asks
    # Auth's `IssueServiceToken` with its secret. Auth signs its own.
    service_token_source: Callable[[ServiceContext], Callable[[], Awaitable[IssuedToken]]] | None = None
