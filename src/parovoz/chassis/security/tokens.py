"""Access tokens: RS256 JWTs issued by the auth service and verified everywhere through its JWKS.

Verification is on every request's path, so the verifier parses each JWK once into a public key
object, maps a token's (shared) header segment straight to its key, and remembers recently verified
tokens until they expire. Only RS256 is accepted: `none` and HS* would let anyone holding the public
key forge tokens (key confusion).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from parovoz.chassis.errors import LANGUAGES, ApiError
from parovoz.chassis.obs.logging import get_logger
from parovoz.chassis.security import jws
from parovoz.chassis.security.keys import ALGORITHM, SigningKey, jwks, parse_public_jwks
from parovoz.chassis.security.principal import Principal
from parovoz.chassis.security.revocation import RevocationList

__all__ = [
    "IssuedToken",
    "JwksTokenVerifier",
    "Principal",
    "SigningKey",
    "TokenIssuer",
    "TokenVerifier",
    "invalid_token",
    "jwks",
    "local_jwks_source",
    "session_ended",
]

DEFAULT_ISSUER = "parovoz-auth"
DEFAULT_AUDIENCE = "parovoz"
_HEADER_CACHE_SIZE = 64
# Seconds of clock skew `exp`/`nbf` tolerate: a revoked session's entry must outlive its tokens by it.
DEFAULT_LEEWAY = 30.0

log = get_logger(__name__)


def invalid_token() -> ApiError:
    """401 INVALID_TOKEN with the RFC 6750 challenge; never says what exactly was wrong."""
    return ApiError(401, "INVALID_TOKEN", headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


def session_ended() -> ApiError:
    """The same 401 INVALID_TOKEN for a token of an ended session; only the RFC 6750 challenge's
    `error_description` (for developers, not localized) says why: the catalogue's detail is generic."""
    return ApiError(
        401,
        "INVALID_TOKEN",
        headers={"WWW-Authenticate": 'Bearer error="invalid_token", error_description="session ended"'},
    )


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    token_id: str
    expires_at: datetime


class TokenIssuer:
    """Signs access tokens with the auth service's current key (its `kid` goes in the header)."""

    def __init__(
        self, signing_key: SigningKey, *, issuer: str = DEFAULT_ISSUER, audience: str = DEFAULT_AUDIENCE
    ) -> None:
        self.signing_key = signing_key
        self.issuer = issuer
        self.audience = audience

    def issue(
        self,
        user_id: str,
        roles: Iterable[str],
        session_id: str | None,
        ttl_seconds: int,
        *,
        language: str | None = None,
    ) -> IssuedToken:
        now = int(time.time())
        token_id = str(uuid.uuid4())
        expires = now + int(ttl_seconds)
        claims: dict[str, Any] = {
            "sub": user_id,
            "roles": sorted(set(roles)),
            "sid": session_id,
            "jti": token_id,
            "iat": now,
            "nbf": now,
            "exp": expires,
            "iss": self.issuer,
            "aud": self.audience,
        }
        if language:
            # the user's language ("ru"/"en"): the gateway sends it on as Accept-Language when the
            # client sent none, so messages follow the user's setting
            claims["lang"] = language
        token = jwt.encode(
            claims, self.signing_key.private_key, algorithm=ALGORITHM, headers={"kid": self.signing_key.kid}
        )
        return IssuedToken(token, token_id, datetime.fromtimestamp(expires, UTC))


def local_jwks_source(keys: Iterable[SigningKey]) -> Callable[[], Awaitable[dict[str, Any]]]:
    """A `fetch_jwks` for the process that holds the keys itself (the auth service, embedded mode)."""
    snapshot = list(keys)

    async def fetch() -> dict[str, Any]:
        return jwks(snapshot)

    return fetch


@runtime_checkable
class TokenVerifier(Protocol):
    def verify(self, token: str) -> Principal:
        """Verify with the keys at hand; raises ApiError(401, INVALID_TOKEN)."""
        ...

    async def verify_async(self, token: str) -> Principal:
        """Like `verify`, but an unknown `kid` first refreshes the keys (throttled) and retries."""
        ...


class _UnknownKey(Exception):
    """The token names a `kid` we do not hold (yet): a refresh may help."""


UnknownSigningKey = _UnknownKey  # public name, for verifiers of other token kinds sharing these keys


class JwksTokenVerifier:
    """Verifies access tokens against a JWK Set fetched from the auth service (and refreshed)."""

    def __init__(
        self,
        fetch_jwks: Callable[[], Awaitable[dict[str, Any]]],
        *,
        issuer: str = DEFAULT_ISSUER,
        audience: str = DEFAULT_AUDIENCE,
        leeway: float = DEFAULT_LEEWAY,
        refresh_interval: float = 300,
        min_refresh_gap: float = 5,
        cache_size: int = 4096,
        revocations: RevocationList | None = None,
    ) -> None:
        self._fetch_jwks = fetch_jwks
        # Ended sessions: their tokens are refused although signature and claims still hold.
        self.revocations = revocations
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway
        self._refresh_interval = refresh_interval
        self._min_refresh_gap = min_refresh_gap
        self._cache_size = cache_size
        self._keys: dict[str, RSAPublicKey] = {}
        self._fingerprints: dict[str, tuple[int, int]] = {}
        # The header segment is identical for every token one key signs: map it to the key directly.
        self._header_keys: dict[str, RSAPublicKey] = {}
        # token -> (principal, unix time it stops being served from here: never later than its exp)
        self._verified: dict[str, tuple[Principal, float]] = {}
        self._refresh_lock = asyncio.Lock()
        self._last_attempt = -float("inf")  # monotonic time of the last fetch attempt
        self._next_background_refresh = float("inf")  # unix time; armed by start()
        self._background: asyncio.Task[None] | None = None
        self.fetch_count = 0

    @property
    def keys_loaded(self) -> bool:
        return bool(self._keys)

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(self._keys)

    async def start(self) -> None:
        """First load. An unreachable source is tolerated: keys are fetched lazily on demand."""
        try:
            await self.refresh()
        except Exception as exc:  # the auth service may start after us
            log.warning("jwks_unavailable_at_start", error=repr(exc))
        self._next_background_refresh = time.time() + self._refresh_interval

    async def close(self) -> None:
        task, self._background = self._background, None
        if task is not None and not task.done():
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    async def refresh(self) -> None:
        """Fetch the JWK Set now; raises when the source fails or holds no usable RS256 key."""
        async with self._refresh_lock:
            await self._fetch_and_install()

    def verify(self, token: str) -> Principal:
        now = time.time()
        if now >= self._next_background_refresh:
            self._schedule_background_refresh(now)
        try:
            return self._verify(token, now)
        except _UnknownKey:
            self._schedule_background_refresh(now)
            raise invalid_token() from None

    async def verify_async(self, token: str) -> Principal:
        now = time.time()
        if now >= self._next_background_refresh:
            self._schedule_background_refresh(now)
        try:
            return self._verify(token, now)
        except _UnknownKey:
            pass
        await self._refresh_throttled()
        try:
            return self._verify(token, time.time())
        except _UnknownKey:
            raise invalid_token() from None

    # -- verification -------------------------------------------------------------------------

    def _verify(self, token: str, now: float) -> Principal:
        principal = self._verify_token(token, now)
        # The one place ended sessions are refused (a dict lookup, cached tokens included).
        revocations = self.revocations
        if revocations is not None and principal.session_id is not None:
            if revocations.is_revoked(principal.session_id, now):
                raise session_ended()
        return principal

    def _verify_token(self, token: str, now: float) -> Principal:
        cached = self._verified.get(token)
        if cached is not None:
            if now < cached[1]:
                return cached[0]
            del self._verified[token]
        try:
            header_segment, payload_segment, sig_segment = jws.split_token(token)
            key = self._key_for(header_segment)
            jws.verify_signature(key, header_segment, payload_segment, sig_segment)
            claims = jws.parse_claims(payload_segment)
            jws.validate_claims(
                claims, issuer=self._issuer, audience=self._audience, leeway=self._leeway, now=now
            )
            principal = _principal_from(claims)
        except jws.InvalidJws:
            raise invalid_token() from None
        if self._cache_size > 0:
            if len(self._verified) >= self._cache_size:
                # Oldest first (dicts keep insertion order): cheap, and old tokens expire first anyway.
                del self._verified[next(iter(self._verified))]
            self._verified[token] = (principal, float(claims["exp"]))
        return principal

    def _key_for(self, header_segment: str) -> RSAPublicKey:
        key = self._header_keys.get(header_segment)
        if key is not None:
            return key
        kid, _header = jws.parse_header(header_segment)
        key = self._keys.get(kid)
        if key is None:
            raise _UnknownKey(kid)
        if len(self._header_keys) >= _HEADER_CACHE_SIZE:
            self._header_keys.clear()  # only crafted headers get here: no need for finesse
        self._header_keys[header_segment] = key
        return key

    # -- the keys, for other token kinds signed with them (service tokens) --------------------

    def key_for_header(self, header_segment: str) -> RSAPublicKey:
        """The public key a compact JWS header segment names (RS256 only); raises `UnknownSigningKey`
        for a `kid` we do not hold and `jws.InvalidJws` for a bad header."""
        return self._key_for(header_segment)

    async def refresh_for_unknown_key(self) -> None:
        """Fetch the JWK Set again (throttled, shared with user-token verification)."""
        await self._refresh_throttled()

    # -- key refresh --------------------------------------------------------------------------

    async def _refresh_throttled(self) -> None:
        """At most one fetch per `min_refresh_gap`, however many unknown kids arrive at once."""
        async with self._refresh_lock:
            if time.monotonic() - self._last_attempt < self._min_refresh_gap:
                return
            try:
                await self._fetch_and_install()
            except Exception as exc:
                log.warning("jwks_refresh_failed", error=repr(exc))

    def _schedule_background_refresh(self, now: float) -> None:
        if self._background is not None and not self._background.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # verify() called outside an event loop: refresh on the next async call
            return
        self._next_background_refresh = now + self._refresh_interval
        self._background = loop.create_task(self._refresh_throttled())

    async def _fetch_and_install(self) -> None:
        self._last_attempt = time.monotonic()
        self.fetch_count += 1
        document = await self._fetch_jwks()
        keys, fingerprints = parse_public_jwks(document)
        if not keys:
            # An empty set would lock every user out; keep the keys we have and say so.
            raise ValueError("the JWK Set holds no usable RS256 signing key")
        if fingerprints != self._fingerprints:
            self._keys, self._fingerprints = keys, fingerprints
            # Tokens verified with a key that has just gone must not be served from memory.
            self._header_keys = {}
            self._verified = {}
            log.info("jwks_keys_installed", kids=sorted(keys))
        self._next_background_refresh = time.time() + self._refresh_interval


def _principal_from(claims: dict[str, Any]) -> Principal:
    # A service token (aud "parovoz-services") already fails the audience check; this says it twice.
    if claims.get("token_use", "access") != "access":
        raise jws.InvalidJws("not an access token")
    subject, token_id, roles = claims["sub"], claims["jti"], claims.get("roles", [])
    session_id = claims.get("sid")
    if not isinstance(subject, str) or not subject or not isinstance(token_id, str) or not token_id:
        raise jws.InvalidJws("sub and jti must be non-empty strings")
    if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
        raise jws.InvalidJws("roles must be a list of strings")
    if session_id is not None and not isinstance(session_id, str):
        raise jws.InvalidJws("sid must be a string")
    language = claims.get("lang")
    return Principal(
        user_id=subject,
        roles=frozenset(roles),
        session_id=session_id,
        token_id=token_id,
        expires_at=datetime.fromtimestamp(claims["exp"], UTC),
        # only a language we serve; anything else is as if the claim were absent
        language=language if language in LANGUAGES else None,
    )
