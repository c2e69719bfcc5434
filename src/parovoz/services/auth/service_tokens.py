"""Auth issues the service tokens the platform's services present to each other over gRPC.

A service proves who it is with its secret (`PAROVOZ_SERVICE_SECRET`); Auth keeps only the SHA-256
of each, from `PAROVOZ_AUTH_SERVICE_CREDENTIALS` = "name:sha256hex,name:sha256hex" (embedded mode
generates them per run). Auth itself needs no secret: it signs its own tokens (`mint`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

from parovoz.chassis.errors import ApiError, register_messages, too_many_requests
from parovoz.chassis.security.service_credentials import TokenFetch
from parovoz.chassis.security.service_tokens import (
    DEFAULT_SERVICE_TOKEN_TTL,
    is_service_name,
    issue_service_token,
)
from parovoz.chassis.security.tokens import IssuedToken
from parovoz.chassis.service import ServiceContext
from parovoz.services.auth.wiring import components

CREDENTIALS_SETTING = "AUTH_SERVICE_CREDENTIALS"
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
# compared against when the service is unknown, so the answer takes as long as for a wrong secret
_NO_DIGEST = bytes(32)
_EXTRAS_KEY = "auth.service_tokens"

register_messages(
    {
        "SERVICE_CREDENTIALS_INVALID": {
            "ru": ("Неверные учётные данные сервиса", "Сервис не известен или его секрет неверен."),
            "en": ("Invalid service credentials", "The service is unknown or its secret is wrong."),
        },
    }
)


def parse_credentials(raw: str | None) -> dict[str, bytes]:
    """ "name:sha256hex,..." → {name: digest}; a malformed entry stops the start with a clear message."""
    found: dict[str, bytes] = {}
    for entry in (raw or "").split(","):
        entry = entry.strip()
        if not entry:
            continue
        name, sep, digest = entry.partition(":")
        name, digest = name.strip(), digest.strip().lower()
        if not sep or not is_service_name(name) or _SHA256_HEX.fullmatch(digest) is None:
            raise ValueError(
                f"PAROVOZ_{CREDENTIALS_SETTING}: expected 'name:<64 hex digits of SHA-256>' entries "
                f"separated by commas, got {entry.split(':', 1)[0]!r}:…"
            )
        if name in found:
            raise ValueError(f"PAROVOZ_{CREDENTIALS_SETTING}: service {name!r} is listed twice")
        found[name] = bytes.fromhex(digest)
    return found


@dataclass
class ServiceTokenDesk:
    """Checks a service's secret and signs its token with Auth's current key."""

    ctx: ServiceContext
    credentials: dict[str, bytes]
    ttl_seconds: int
    rate_per_min: int

    async def mint(self, service: str) -> IssuedToken:
        """A token for `service` without any check: for Auth's own calls (and the embedded runtime)."""
        key = await components(self.ctx).keyring.current()
        return issue_service_token(key, service, ttl_seconds=self.ttl_seconds)

    async def issue(self, service: str, secret: str, *, client: str) -> IssuedToken:
        """A token when `secret` is `service`'s; one answer for unknown service and wrong secret."""
        decision = await self.ctx.limiter.hit(f"auth:service-token:{client}", self.rate_per_min, 60)
        if not decision.allowed:
            raise too_many_requests(decision.retry_after)
        expected = self.credentials.get(service, _NO_DIGEST)
        given = hashlib.sha256(secret.encode("utf-8")).digest()
        if not hmac.compare_digest(given, expected) or service not in self.credentials:
            raise ApiError(401, "SERVICE_CREDENTIALS_INVALID")
        return await self.mint(service)


def desk(ctx: ServiceContext) -> ServiceTokenDesk:
    found = ctx.extras.get(_EXTRAS_KEY)
    if found is None:
        found = ctx.extras[_EXTRAS_KEY] = ServiceTokenDesk(
            ctx,
            parse_credentials(ctx.settings.get(CREDENTIALS_SETTING)),
            ttl_seconds=ctx.settings.positive_int("AUTH_SERVICE_TOKEN_TTL", DEFAULT_SERVICE_TOKEN_TTL),
            rate_per_min=ctx.settings.positive_int("AUTH_SERVICE_TOKEN_RATE_PER_MIN", 60),
        )
    return found


def own_token_source(ctx: ServiceContext) -> TokenFetch:
    """`ServiceSpec.service_token_source`: Auth signs its own tokens, no secret and no call."""

    async def fetch() -> IssuedToken:
        return await desk(ctx).mint(ctx.name)

    return fetch
