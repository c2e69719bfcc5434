"""Keys, a mutable JWKS source and token crafting helpers for the token tests."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt
import pytest

from parovoz.chassis.security.tokens import SigningKey, jwks


class JwksSource:
    """A JWKS endpoint stand-in: tests add / remove keys, make it fail, and count fetches."""

    def __init__(self, *keys: SigningKey) -> None:
        self.keys = list(keys)
        self.fetches = 0
        self.failing = False

    async def __call__(self) -> dict[str, Any]:
        self.fetches += 1
        if self.failing:
            raise ConnectionError("auth service unavailable")
        return jwks(self.keys)


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "sub": "user-1",
        "roles": ["user"],
        "sid": "session-1",
        "jti": str(uuid.uuid4()),
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "iss": "parovoz-auth",
        "aud": "parovoz",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def sign(key: SigningKey, payload: dict[str, Any], **header: Any) -> str:
    return jwt.encode(payload, key.private_key, algorithm="RS256", headers={"kid": key.kid, **header})


# RSA key generation takes tens of milliseconds: make the few keys once per session.
_KEYS = [SigningKey.generate() for _ in range(3)]


@pytest.fixture
def key_a() -> SigningKey:
    return _KEYS[0]


@pytest.fixture
def key_b() -> SigningKey:
    return _KEYS[1]


@pytest.fixture
def key_c() -> SigningKey:
    return _KEYS[2]
