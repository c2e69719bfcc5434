"""Auth's service definition: routes, gRPC, events, migrations, start-up and demo data."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter

from parovoz.chassis.errors import ApiError
from parovoz.chassis.security.roles import ADMIN, USER
from parovoz.chassis.service import ServiceContext, ServiceSpec, Subscription
from parovoz.contracts.events import ACCOUNT_USER_BLOCKED
from parovoz.services.auth import api, api_external, api_mfa, rpc
from parovoz.services.auth.events import EMITS, on_user_blocked
from parovoz.services.auth.wiring import components

DEMO_USERS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("demo@parovoz.local", "demo", (USER,)),
    ("admin@parovoz.local", "admin", (USER, ADMIN)),
)


async def on_start(ctx: ServiceContext) -> None:
    """Make sure a signing key exists before the first token is asked for (replica-safe), and
    load it into our verifier so even its synchronous `verify` knows the key from the start."""
    auth = components(ctx)
    await auth.keyring.ensure()
    await auth.verifier.start()


async def seed_demo(ctx: ServiceContext) -> None:
    """The local demo's users (password: settings AUTH_DEMO_PASSWORD); running it again is a no-op."""
    auth = components(ctx)
    for email, username, roles in DEMO_USERS:
        if await auth.store.user_by_login(email) is not None:
            continue
        try:
            await auth.flows.register(email, username, auth.config.demo_password, roles=roles)
        except ApiError as exc:
            # another replica seeded it between our check and our insert
            if exc.code not in {"EMAIL_TAKEN", "USERNAME_TAKEN"}:
                raise


def _router(ctx: ServiceContext) -> APIRouter:
    router = APIRouter()
    for build in (api.build_router, api_mfa.build_router, api_external.build_router):
        router.include_router(build(ctx))
    return router


SPEC = ServiceSpec(
    name="auth",
    title="Auth",
    http_prefixes=(api.PREFIX,),
    migrations=Path(__file__).parent / "migrations",
    router=_router,
    grpc=rpc.registrations,
    emits=EMITS,
    # Staff blocks and unblocks in Account; Auth enforces them (sign-in refused, sessions ended).
    subscriptions=(Subscription(ACCOUNT_USER_BLOCKED.name, on_user_blocked),),
    on_start=on_start,
    seed_demo=seed_demo,
)
