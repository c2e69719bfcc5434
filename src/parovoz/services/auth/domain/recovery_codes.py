"""Single-use recovery codes: shown once at 2FA enrolment, stored only as SHA-256.

A code is 10 base32 characters (50 random bits) shown as `xxxxx-xxxxx`; what the user types back
is compared without regard to case, dashes or spaces.
"""

from __future__ import annotations

import hashlib
import secrets

COUNT = 10
LENGTH = 10
ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"  # base32: no 0/1/8/9 to confuse with o/l/b/g


def new_recovery_codes(count: int = COUNT) -> list[str]:
    codes = set()
    while len(codes) < count:
        raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
        codes.add(f"{raw[:5]}-{raw[5:]}")
    return sorted(codes)


def normalize(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


def is_recovery_shaped(code: str) -> bool:
    plain = normalize(code)
    return len(plain) == LENGTH and all(c in ALPHABET for c in plain)


def recovery_code_hash(code: str) -> bytes:
    """What the store keeps; 50 random bits behind a rate-limited check need no slow hash."""
    return hashlib.sha256(normalize(code).encode("ascii", "replace")).digest()
