"""RSA signing keys for access tokens and their public JWK form (what `/.well-known/jwks.json` serves)."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable
from functools import cached_property
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

ALGORITHM = "RS256"


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8 or 1, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def jwk_thumbprint(n: str, e: str) -> str:
    """RFC 7638 thumbprint of an RSA JWK: SHA-256 of the required members, sorted, no whitespace."""
    canonical = json.dumps({"e": e, "kty": "RSA", "n": n}, separators=(",", ":"), sort_keys=True)
    digest = hashlib.sha256(canonical.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class SigningKey:
    """An RSA 2048 private key; `kid` is its RFC 7638 JWK thumbprint, so it is stable across restarts."""

    def __init__(self, private_key: rsa.RSAPrivateKey) -> None:
        if not isinstance(private_key, rsa.RSAPrivateKey):
            raise TypeError("a SigningKey needs an RSA private key")
        self.private_key = private_key

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(rsa.generate_private_key(public_exponent=65537, key_size=2048))

    @classmethod
    def from_pem(cls, pem: bytes) -> SigningKey:
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("the PEM does not hold an RSA private key")
        return cls(key)

    def to_pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def public_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    @cached_property
    def _public_numbers(self) -> tuple[str, str]:
        numbers = self.private_key.public_key().public_numbers()
        return _b64url_uint(numbers.n), _b64url_uint(numbers.e)

    @cached_property
    def kid(self) -> str:
        n, e = self._public_numbers
        return jwk_thumbprint(n, e)

    def public_jwk(self) -> dict[str, Any]:
        n, e = self._public_numbers
        return {"kty": "RSA", "n": n, "e": e, "kid": self.kid, "alg": ALGORITHM, "use": "sig"}


def jwks(keys: Iterable[SigningKey]) -> dict[str, Any]:
    """The JWK Set publishing the public halves of `keys` (current key and the ones still honoured)."""
    return {"keys": [key.public_jwk() for key in keys]}


def parse_public_jwks(
    document: dict[str, Any],
) -> tuple[dict[str, RSAPublicKey], dict[str, tuple[int, int]]]:
    """The usable RS256 signing keys of a JWK Set, parsed once: (kid -> key, kid -> (n, e)).

    Entries for other key types, algorithms or uses, and keys under 2048 bits, are skipped.
    """
    keys: dict[str, RSAPublicKey] = {}
    fingerprints: dict[str, tuple[int, int]] = {}
    for jwk in document.get("keys", []) if isinstance(document, dict) else []:
        if not isinstance(jwk, dict) or jwk.get("kty") != "RSA" or not isinstance(jwk.get("kid"), str):
            continue
        if jwk.get("alg", ALGORITHM) != ALGORITHM or jwk.get("use", "sig") != "sig":
            continue
        try:
            key = jwt.PyJWK(jwk, algorithm=ALGORITHM).key
        except (jwt.PyJWTError, ValueError, TypeError, KeyError):
            continue
        if not isinstance(key, RSAPublicKey) or key.key_size < 2048:
            continue
        numbers = key.public_numbers()
        keys[jwk["kid"]] = key
        fingerprints[jwk["kid"]] = (numbers.n, numbers.e)
    return keys, fingerprints
