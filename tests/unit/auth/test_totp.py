"""RFC 6238 TOTP: the Appendix B vectors, the ±1-step window, replay refusal, the otpauth URI."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from parovoz.services.auth.domain import totp

# RFC 6238 Appendix B, SHA-1 rows: the 8-digit values truncated to the low 6 digits (mod 10^6).
RFC_SECRET = base64.b32encode(b"12345678901234567890").decode().rstrip("=")
VECTORS = [
    (59, "287082"),  # 94287082
    (1111111109, "081804"),  # 07081804
    (1111111111, "050471"),  # 14050471
    (1234567890, "005924"),  # 89005924
    (2000000000, "279037"),  # 69279037
    (20000000000, "353130"),  # 65353130
]


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


@pytest.mark.parametrize(("seconds", "code"), VECTORS)
def test_rfc_6238_appendix_b_vectors(seconds: int, code: str) -> None:
    assert totp.code_for(RFC_SECRET, at(seconds)) == code
    assert totp.matching_step(RFC_SECRET, code, at(seconds)) == seconds // 30


def test_one_step_either_side_is_accepted_two_are_not() -> None:
    now = at(1234567890)
    step = totp.step_at(now)
    for delta, accepted in ((-2, False), (-1, True), (0, True), (1, True), (2, False)):
        code = totp.code_for(RFC_SECRET, now + timedelta(seconds=30 * delta))
        expected = step + delta if accepted else None
        assert totp.matching_step(RFC_SECRET, code, now) == expected, delta


def test_a_step_not_after_the_last_used_one_is_refused() -> None:
    now = at(1234567890)
    step = totp.step_at(now)
    code = totp.code_for(RFC_SECRET, now)
    assert totp.matching_step(RFC_SECRET, code, now, after=step - 1) == step
    assert totp.matching_step(RFC_SECRET, code, now, after=step) is None  # replay
    assert totp.matching_step(RFC_SECRET, code, now, after=step + 1) is None
    # the previous step's code after the current one was used: older, refused too
    previous = totp.code_for(RFC_SECRET, now - timedelta(seconds=30))
    assert totp.matching_step(RFC_SECRET, previous, now, after=step) is None


@pytest.mark.parametrize("code", ["", "28708", "2870820", "28708a", "２８７０８２", " 287082"])
def test_malformed_codes_match_nothing(code: str) -> None:
    assert totp.matching_step(RFC_SECRET, code, at(59)) is None


def test_secrets_are_160_random_bits_in_unpadded_base32() -> None:
    first, second = totp.new_secret(), totp.new_secret()
    assert first != second
    assert len(first) == 32 and "=" not in first
    assert len(totp.secret_bytes(first)) == 20
    assert totp.secret_bytes(first.lower()) == totp.secret_bytes(first)


def test_otpauth_uri_is_the_key_uri_format_properly_quoted() -> None:
    uri = totp.otpauth_uri("JBSWY3DPEHPK3PXP", "ann smith&co")
    parts = urlsplit(uri)
    assert (parts.scheme, parts.netloc) == ("otpauth", "totp")
    assert parts.path == "/Parovoz:ann%20smith%26co"
    assert parse_qs(parts.query) == {
        "secret": ["JBSWY3DPEHPK3PXP"],
        "issuer": ["Parovoz"],
        "algorithm": ["SHA1"],
        "digits": ["6"],
        "period": ["30"],
    }
