"""Account: accounts and profiles, created from Auth's registrations; lookups for other services."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter

from parovoz.chassis.service import ServiceContext, ServiceSpec, Subscription
from parovoz.contracts.events import AUTH_USER_REGISTERED
from parovoz.services.account import api, api_data, api_privacy
from parovoz.services.account.events import EMITS, on_user_registered
from parovoz.services.account.export_job import JOBS
from parovoz.services.account.rpc import grpc_registrations


def _router(ctx: ServiceContext) -> APIRouter:
    router = APIRouter()
    # privacy, settings, consents; data exports and deletion; profiles and the staff listing
    for build in (api_privacy.build_router, api_data.build_router, api.build_router):
        router.include_router(build(ctx))
    return router


SPEC = ServiceSpec(
    name="account",
    title="Account",
    http_prefixes=("/api/v1/users",),
    migrations=Path(__file__).parent / "migrations",
    router=_router,
    grpc=grpc_registrations,
    # Accounts come from Auth's registrations; there is no demo data of our own to seed.
    subscriptions=(Subscription(AUTH_USER_REGISTERED.name, on_user_registered),),
    emits=EMITS,
    # Auth: re-checking the user before a deletion, its part of a data export.
    rpc_peers=("auth",),
    jobs=JOBS,
)
