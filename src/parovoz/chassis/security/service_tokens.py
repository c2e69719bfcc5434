"""Service tokens: who is calling when one Parovoz service calls another over gRPC.

A service token is a short-lived RS256 JWT that Auth signs with its current access-token key, so
every receiver checks it locally with the JWK Set it already holds (one signature check, then a
cache keyed by the token string, since a caller reuses its token for minutes). Its claims keep it
apart from a user's access token both ways: `aud` "parovoz-services" (access tokens: "parovoz"),
`token_use` "service", `sub` "service:<name>".
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from parovoz.chassis.errors import ApiError, register_messages
from parovoz.chassis.security import jws
from parovoz.chassis.security.keys import ALGORITHM, SigningKey
from parovoz.chassis.security.tokens import DEFAULT_ISSUER, IssuedToken, UnknownSigningKey

SERVICE_AUDIENCE = "parovoz-services"
SERVICE_TOKEN_USE = "service"
SUBJECT_PREFIX = "service:"
DEFAULT_SERVICE_TOKEN_TTL = 600
# lower-case, like the service names of the registry ("auth", "account") and future callers ("admin")
SERVICE_NAME = re.compile(r"[a-z][a-z0-9_-]{0,31}")

register_messages(
    {
        "SERVICE_TOKEN_MISSING": {
            "ru": ("Нет токена сервиса", "Вызов между сервисами должен нести токен сервиса."),
            "en": ("Service token missing", "A call between services must carry a service token."),
        },
        "SERVICE_TOKEN_INVALID": {
            "ru": ("Недействительный токен сервиса", "Токен сервиса недействителен или истёк."),
            "en": ("Invalid service token", "The service token is invalid or has expired."),
        },
        "CALLER_NOT_ALLOWED": {
            "ru": ("Вызов запрещён", "Сервису «{service}» этот метод недоступен."),
            "en": ("Caller not allowed", "Service '{service}' may not call this method."),
        },
        "SERVICE_TOKEN_UNAVAILABLE": {
            "ru": ("Сервис недоступен", "Не удалось получить токен сервиса у Auth; повторите позже."),
            "en": ("Service unavailable", "Could not obtain a service token from Auth; try again later."),
        },
    }
)


def service_token_missing() -> ApiError:
    return ApiError(401, "SERVICE_TOKEN_MISSING")


def invalid_service_token() -> ApiError:
    """Never says what exactly was wrong (like `invalid_token`)."""
    return ApiError(401, "SERVICE_TOKEN_INVALID")


def caller_not_allowed(service: str) -> ApiError:
    return ApiError(403, "CALLER_NOT_ALLOWED", params={"service": service})


def is_service_name(name: str) -> bool:
    return SERVICE_NAME.fullmatch(name) is not None


@dataclass(frozen=True, slots=True)
class ServiceIdentity:
    """The verified calling service."""

    name: str
    token_id: str
    expires_at: datetime


def issue_service_token(
    signing_key: SigningKey,
    service: str,
    *,
    issuer: str = DEFAULT_ISSUER,
    ttl_seconds: int = DEFAULT_SERVICE_TOKEN_TTL,
    now: float | None = None,
) -> IssuedToken:
    """A service token for `service`, signed with Auth's current key (its `kid` in the header)."""
    if not is_service_name(service):
        raise ValueError(f"not a service name: {service!r}")
    issued_at = int(time.time() if now is None else now)
    token_id = str(uuid.uuid4())
    expires = issued_at + int(ttl_seconds)
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": SERVICE_AUDIENCE,
        "sub": SUBJECT_PREFIX + service,
        "token_use": SERVICE_TOKEN_USE,
        "jti": token_id,
        "iat": issued_at,
        "nbf": issued_at,
        "exp": expires,
    }
    token = jwt.encode(claims, signing_key.private_key, algorithm=ALGORITHM, headers={"kid": signing_key.kid})
    return IssuedToken(token, token_id, datetime.fromtimestamp(expires, UTC))


class SigningKeys(Protocol):
    """Where the public keys come from: `JwksTokenVerifier` (the JWK Set the process already holds)."""

    def key_for_header(self, header_segment: str) -> RSAPublicKey: ...

    async def refresh_for_unknown_key(self) -> None: ...


class ServiceTokenVerifier:
    """Checks service tokens with the process's JWK Set; remembers verified ones until they expire."""

    def __init__(
        self,
        keys: SigningKeys,
        *,
        issuer: str = DEFAULT_ISSUER,
        leeway: float = 30.0,
        cache_size: int = 256,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._keys = keys
        self._issuer = issuer
        self._leeway = leeway
        self._cache_size = cache_size
        self._clock = clock
        # token -> (identity, the key that verified it, unix time it stops being served from here)
        self._verified: dict[str, tuple[ServiceIdentity, RSAPublicKey, float]] = {}

    def verify(self, token: str) -> ServiceIdentity:
        """The caller; raises ApiError(401, SERVICE_TOKEN_INVALID), also for a `kid` not held yet."""
        try:
            return self._verify(token, self._clock())
        except UnknownSigningKey:
            raise invalid_service_token() from None

    async def verify_async(self, token: str) -> ServiceIdentity:
        """Like `verify`, but an unknown `kid` first refreshes the keys (throttled) and retries."""
        try:
            return self._verify(token, self._clock())
        except UnknownSigningKey:
            pass
        await self._keys.refresh_for_unknown_key()
        try:
            return self._verify(token, self._clock())
        except UnknownSigningKey:
            raise invalid_service_token() from None

    def _verify(self, token: str, now: float) -> ServiceIdentity:
        header_segment = token.partition(".")[0]
        cached = self._verified.get(token)
        if cached is not None:
            identity, key, until = cached
            # still unexpired and its key still published (a rotated-out key ends its tokens at once)
            if now < until and self._current_key(header_segment) is key:
                return identity
            del self._verified[token]
        try:
            header_segment, payload_segment, sig_segment = jws.split_token(token)
            key = self._keys.key_for_header(header_segment)
            jws.verify_signature(key, header_segment, payload_segment, sig_segment)
            claims = jws.parse_claims(payload_segment)
            jws.validate_claims(
                claims, issuer=self._issuer, audience=SERVICE_AUDIENCE, leeway=self._leeway, now=now
            )
            identity = _identity_from(claims)
        except jws.InvalidJws:
            raise invalid_service_token() from None
        if self._cache_size > 0:
            if len(self._verified) >= self._cache_size:
                del self._verified[next(iter(self._verified))]  # oldest first; few services exist
            self._verified[token] = (identity, key, float(claims["exp"]))
        return identity

    def _current_key(self, header_segment: str) -> RSAPublicKey | None:
        try:
            return self._keys.key_for_header(header_segment)
        except (UnknownSigningKey, jws.InvalidJws):
            return None


def _identity_from(claims: dict[str, Any]) -> ServiceIdentity:
    if claims.get("token_use") != SERVICE_TOKEN_USE or claims.get("aud") != SERVICE_AUDIENCE:
        raise jws.InvalidJws("not a service token")
    subject, token_id = claims["sub"], claims["jti"]
    if not isinstance(subject, str) or not subject.startswith(SUBJECT_PREFIX):
        raise jws.InvalidJws("sub is not service:<name>")
    name = subject[len(SUBJECT_PREFIX) :]
    if not is_service_name(name) or not isinstance(token_id, str) or not token_id:
        raise jws.InvalidJws("bad service name or jti")
    expires_at = datetime.fromtimestamp(claims["exp"], UTC)
    return ServiceIdentity(name=name, token_id=token_id, expires_at=expires_at)
