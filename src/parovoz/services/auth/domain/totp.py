"""RFC 6238 TOTP (HMAC-SHA-1, 6 digits, 30-second steps), hand-written because replay protection
needs the time step a code matched, which pyotp's `verify` does not return."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
from datetime import datetime
from urllib.parse import quote, urlencode

DIGITS = 6
PERIOD_S = 30
# Steps accepted on either side of the current one (clock drift, a code typed at a step's end).
WINDOW = 1
SECRET_BYTES = 20  # 160 bits, RFC 4226's recommended length
ISSUER = "Parovoz"


def new_secret() -> str:
    """160 random bits, base32 without padding (what authenticator apps take)."""
    return base64.b32encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii").rstrip("=")


def secret_bytes(secret: str) -> bytes:
    padded = secret.upper() + "=" * (-len(secret) % 8)
    return base64.b32decode(padded)


def step_at(moment: datetime) -> int:
    return int(moment.timestamp()) // PERIOD_S


def code_at_step(key: bytes, step: int, digits: int = DIGITS) -> str:
    """RFC 4226 HOTP of the counter `step` (dynamic truncation, then the low `digits` digits)."""
    mac = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    binary = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(binary % 10**digits).zfill(digits)


def code_for(secret: str, moment: datetime) -> str:
    return code_at_step(secret_bytes(secret), step_at(moment))


def is_code_shaped(code: str) -> bool:
    return len(code) == DIGITS and code.isascii() and code.isdigit()


def matching_step(secret: str, code: str, now: datetime, *, after: int | None = None) -> int | None:
    """The step within ±WINDOW of `now` whose code is `code`, only among steps greater than `after`
    (the last step accepted: a code is never accepted twice); None when none matches."""
    if not is_code_shaped(code):
        return None
    key = secret_bytes(secret)
    current = step_at(now)
    found = None
    for step in range(current - WINDOW, current + WINDOW + 1):
        # every candidate is compared (constant time), so timing says nothing about which matched
        if hmac.compare_digest(code_at_step(key, step), code) and (after is None or step > after):
            found = step if found is None else found
    return found


def otpauth_uri(secret: str, account: str, issuer: str = ISSUER) -> str:
    """The Key Uri Format authenticator apps scan: otpauth://totp/<issuer>:<account>?secret=…"""
    label = quote(f"{issuer}:{account}", safe=":")
    query = urlencode(
        {
            "secret": secret,
            "issuer": issuer,
            "algorithm": "SHA1",
            "digits": DIGITS,
            "period": PERIOD_S,
        },
        quote_via=quote,
    )
    return f"otpauth://totp/{label}?{query}"
