"""A service's own token, kept for its outgoing gRPC calls and refreshed before it expires.

`ServiceCredentials(name, fetch)`: `fetch` obtains a fresh token (from Auth's `IssueServiceToken`
with the service's secret; Auth itself signs its own). `await credentials.token()` is a comparison
and an attribute read while the token is fresh; past three quarters of its life one caller fetches
a new one while any others wait for that same fetch (single flight). If the fetch fails while the
old token still has time left, the old one is used and the fetch retried a few seconds later, so a
short Auth outage does not stop the calls between other services.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections.abc import Awaitable, Callable

from parovoz.chassis.obs.logging import get_logger
from parovoz.chassis.security.tokens import IssuedToken

TokenFetch = Callable[[], Awaitable[IssuedToken]]

log = get_logger(__name__)

REFRESH_AT_SHARE = 0.75  # of the token's remaining life at the time it was fetched
RETRY_GAP = 5.0  # seconds between fetch attempts while the old token still serves
MIN_REMAINING = 5.0  # an old token with less life than this left is not worth sending


def new_service_secret() -> str:
    """A fresh service secret (256 random bits, URL-safe text)."""
    return secrets.token_urlsafe(32)


def secret_digest(secret: str) -> str:
    """SHA-256 (hex) of a service secret: all Auth keeps (`PAROVOZ_AUTH_SERVICE_CREDENTIALS`)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def credential_line(service: str, secret: str) -> str:
    """The `name:sha256hex` entry of `PAROVOZ_AUTH_SERVICE_CREDENTIALS` for this secret."""
    return f"{service}:{secret_digest(secret)}"


class ServiceTokenUnavailable(Exception):
    """No usable token: the fetch failed (or none is configured) and no cached token is left."""


class ServiceCredentials:
    def __init__(
        self,
        service: str,
        fetch: TokenFetch | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.service = service
        self._fetch = fetch
        self._clock = clock
        self._token: str | None = None
        self._expires_at = 0.0
        self._refresh_at = 0.0
        self._lock = asyncio.Lock()
        self.fetch_count = 0

    def bind(self, fetch: TokenFetch) -> None:
        """Set how tokens are obtained (when the source exists only after the channels do)."""
        self._fetch = fetch

    async def token(self) -> str:
        """A token valid for a while yet; raises `ServiceTokenUnavailable` when none can be had."""
        token = self._token
        if token is not None and self._clock() < self._refresh_at:
            return token
        async with self._lock:
            now = self._clock()
            if self._token is not None and now < self._refresh_at:
                return self._token  # another caller refreshed it while we waited
            return await self._refresh(now)

    async def _refresh(self, now: float) -> str:
        if self._fetch is None:
            raise ServiceTokenUnavailable(f"no way to obtain a token for service {self.service!r}")
        self.fetch_count += 1
        try:
            issued = await self._fetch()
        except Exception as exc:
            if self._token is not None and now < self._expires_at - MIN_REMAINING:
                self._refresh_at = now + RETRY_GAP
                log.warning("service_token_refresh_failed", service=self.service, error=repr(exc))
                return self._token
            raise ServiceTokenUnavailable(f"cannot obtain a token for service {self.service!r}") from exc
        expires_at = issued.expires_at.timestamp()
        self._token = issued.token
        self._expires_at = expires_at
        self._refresh_at = now + max(0.0, expires_at - now) * REFRESH_AT_SHARE
        return issued.token
