"""Account: accounts and profiles, created from Auth's registrations; lookups for other services."""

from __future__ import annotations

from pathlib import Path

from parovoz.chassis.service import ServiceSpec, Subscription
from parovoz.contracts.events import AUTH_USER_REGISTERED
from parovoz.services.account.api import build_router
from parovoz.services.account.events import EMITS, on_user_registered
from parovoz.services.account.rpc import grpc_registrations

SPEC = ServiceSpec(
    name="account",
    title="Account",
    http_prefixes=("/api/v1/users",),
    migrations=Path(__file__).parent / "migrations",
    router=build_router,
    grpc=grpc_registrations,
    # Accounts come from Auth's registrations; there is no demo data of our own to seed.
    subscriptions=(Subscription(AUTH_USER_REGISTERED.name, on_user_registered),),
    emits=EMITS,
    rpc_peers=(),
)
