"""How tests call Parovoz gRPC services: as a named service holding a real service token.

Every non-public gRPC method wants `authorization: Bearer <service token>` (chassis/rpc/identity.py).
Tests get one the way the platform does, never through a bypass:

- a server built on a test signing key (its verifier's JWK Set holds that key):
  `service_token(key, "admin")` signs one with it;
- a server of a real Auth (integration harness or the embedded platform): `await auth_service_token(
  auth_ctx, "admin")` / `await platform_service_token(platform, "admin")` has Auth sign it with its
  current key (what Auth does for itself);
- then `service_channel(address, token)` is a chassis channel presenting it on every call, or
  `service_metadata(token)` the metadata for one call on any channel.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import grpc

from parovoz.chassis.config import Settings
from parovoz.chassis.rpc.client import open_channel
from parovoz.chassis.security.keys import SigningKey
from parovoz.chassis.security.service_credentials import ServiceCredentials
from parovoz.chassis.security.service_tokens import issue_service_token
from parovoz.chassis.security.tokens import IssuedToken
from parovoz.chassis.service import ServiceContext

if TYPE_CHECKING:
    from parovoz.runtime.embedded import EmbeddedPlatform

TEST_CALLER = "tests"


def service_token(key: SigningKey, service: str = TEST_CALLER, *, ttl_seconds: int = 600) -> str:
    """A service token for `service` signed with `key` (trusted by a verifier whose JWKS holds it)."""
    return issue_service_token(key, service, ttl_seconds=ttl_seconds).token


async def auth_service_token(auth_ctx: ServiceContext, service: str = TEST_CALLER) -> str:
    """A service token signed by this Auth instance's current key, as it signs its own."""
    from parovoz.services.auth.service_tokens import desk

    return (await desk(auth_ctx).mint(service)).token


async def platform_service_token(platform: EmbeddedPlatform, service: str = TEST_CALLER) -> str:
    """A service token signed by the embedded platform's Auth."""
    (auth,) = [host for host in platform.hosts if host.spec.name == "auth"]
    return await auth_service_token(auth.ctx, service)


def fixed_credentials(service: str, token: str) -> ServiceCredentials:
    """Credentials that always present `token` (a test's token does not need refreshing)."""
    issued = IssuedToken(token, "", datetime.now(UTC) + timedelta(days=1))

    async def fetch() -> IssuedToken:
        return issued

    return ServiceCredentials(service, fetch)


def service_channel(
    address: str, token: str, *, caller: str = TEST_CALLER, settings: Settings | None = None
) -> grpc.aio.Channel:
    """A chassis channel to `address` whose every call presents `token`."""
    return open_channel(
        address, settings or Settings(), caller=caller, credentials=fixed_credentials(caller, token)
    )


def service_metadata(token: str) -> tuple[tuple[str, str], ...]:
    """The metadata presenting `token` on one call: `stub.Method(request, metadata=...)`."""
    return (("authorization", f"Bearer {token}"),)
