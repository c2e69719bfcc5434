"""Strict, fast checks of a compact RS256 JWS and its registered claims.

Why not `jwt.decode`: PyJWT 2.15 validates every base64url character with a Python generator
(`api_jws._decode_base64url_segment`), which costs ~140 µs per token here, more than the RSA
verification itself (~40 µs) and over the 0.1 ms budget of a token check. The same strictness is
kept: canonical base64url only (a compiled regex + a re-encode check), RS256 only, no `crit`
extensions, signature checked before the payload is parsed, then exp / nbf / iat / iss / aud and the
required claims. PyJWT still signs tokens and parses JWKs; the tests run both against each other.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

ALGORITHM = "RS256"
REQUIRED_CLAIMS = ("sub", "jti", "exp", "iat", "iss", "aud")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
_PKCS1V15 = padding.PKCS1v15()
_SHA256 = hashes.SHA256()


class InvalidJws(Exception):
    """Anything wrong with the token; the reason is for logs and tests, never for the caller."""


def decode_segment(segment: str) -> bytes:
    """Canonical unpadded base64url only: `!`, padding or non-zero trailing bits are refused."""
    if len(segment) % 4 == 1 or _BASE64URL.fullmatch(segment) is None:
        raise InvalidJws("malformed base64url")
    raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != segment:
        raise InvalidJws("non-canonical base64url")
    return raw


MAX_TOKEN_LENGTH = 8192


def split_token(token: str) -> tuple[str, str, str]:
    if len(token) > MAX_TOKEN_LENGTH:
        raise InvalidJws("token too long")
    parts = token.split(".")
    if len(parts) != 3 or not all(parts):
        raise InvalidJws("a compact JWS has three non-empty segments")
    return parts[0], parts[1], parts[2]


def parse_header(segment: str) -> tuple[str, dict[str, Any]]:
    """The `kid` and the header of an RS256 token; other algorithms and `crit` are refused."""
    header = _json_object(decode_segment(segment), "header")
    if header.get("alg") != ALGORITHM:
        raise InvalidJws("algorithm not allowed")
    if "crit" in header or header.get("b64", True) is not True:
        raise InvalidJws("unsupported header extension")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise InvalidJws("no kid")
    return kid, header


def verify_signature(key: RSAPublicKey, header_segment: str, payload_segment: str, sig_segment: str) -> None:
    signature = decode_segment(sig_segment)
    signing_input = f"{header_segment}.{payload_segment}".encode("ascii")
    try:
        key.verify(signature, signing_input, _PKCS1V15, _SHA256)
    except InvalidSignature:
        raise InvalidJws("bad signature") from None


def parse_claims(payload_segment: str) -> dict[str, Any]:
    return _json_object(decode_segment(payload_segment), "payload")


def validate_claims(
    claims: Mapping[str, Any], *, issuer: str, audience: str, leeway: float, now: float
) -> None:
    for name in REQUIRED_CLAIMS:
        if name not in claims:
            raise InvalidJws(f"missing claim {name}")
    if _numeric(claims["exp"], "exp") <= now - leeway:
        raise InvalidJws("expired")
    if "nbf" in claims and _numeric(claims["nbf"], "nbf") > now + leeway:
        raise InvalidJws("not yet valid")
    if _numeric(claims["iat"], "iat") > now + leeway:
        raise InvalidJws("issued in the future")
    if claims["iss"] != issuer:
        raise InvalidJws("wrong issuer")
    aud = claims["aud"]
    if not (aud == audience or (isinstance(aud, list) and audience in aud)):
        raise InvalidJws("wrong audience")


def _numeric(value: Any, name: str) -> float:
    # bool is an int subclass; `"exp": true` is not a time.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidJws(f"{name} is not a NumericDate")
    return float(value)


def _json_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidJws(f"{what} is not JSON") from None
    if not isinstance(value, dict):
        raise InvalidJws(f"{what} is not a JSON object")
    return value
