"""Auth's service definition: routes, gRPC, events, migrations, start-up and demo data."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter

from parovoz.chassis.errors import ApiError
from parovoz.chassis.security.roles import ADMIN, USER
from parovoz.chassis.service import ServiceContext, ServiceSpec, Subscription
from parovoz.contracts.events import (
    ACCOUNT_USER_BLOCKED,
    ACCOUNT_USER_DELETED,
    ACCOUNT_USER_UPDATED,
    AUTH_USER_SESSIONS_REVOKED,
)
from parovoz.services.auth import api, api_external, api_mfa, rpc
from parovoz.services.auth.deletion import on_user_deleted
from parovoz.services.auth.events import EMITS, on_user_blocked
from parovoz.services.auth.language_follow import on_user_updated
from parovoz.services.auth.revocations import on_sessions_revoked, restore_recent_revocations
from parovoz.services.auth.service_tokens import own_token_source
from parovoz.services.auth.sign_in_failures import PURGE_JOB
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
    await restore_recent_revocations(ctx)


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
    # A deletion in Account erases the credentials (deletion.py).
    subscriptions=(
        Subscription(ACCOUNT_USER_BLOCKED.name, on_user_blocked),
        Subscription(ACCOUNT_USER_DELETED.name, on_user_deleted),
        # Our own: ended sessions go on the revocation list every token verifier consults.
        Subscription(AUTH_USER_SESSIONS_REVOKED.name, on_sessions_revoked),
        # The language chosen in Account is copied for mails and the tokens' `lang` claim.
        Subscription(ACCOUNT_USER_UPDATED.name, on_user_updated),
    ),
    # GetAccount: the language's value (language_follow.py)
    rpc_peers=("account",),
    # Failed sign-ins older than the guard's longest window (an hour) are dropped.
    jobs=(PURGE_JOB,),
    on_start=on_start,
    seed_demo=seed_demo,
    # Auth signs its own service tokens (the others ask IssueServiceToken with their secret).
    service_token_source=own_token_source,
)
