"""Service secrets and Auth's `PAROVOZ_AUTH_SERVICE_CREDENTIALS` ("name:sha256hex,...")."""

from __future__ import annotations

import hashlib

import pytest

from parovoz.chassis.security.service_credentials import credential_line, new_service_secret
from parovoz.services.auth.service_tokens import parse_credentials


def test_secrets_and_auths_entries() -> None:
    first, second = new_service_secret(), new_service_secret()
    assert first != second and len(first) >= 43
    line = credential_line("account", first)
    assert line == f"account:{hashlib.sha256(first.encode()).hexdigest()}"
    assert parse_credentials(f" {line} , admin:{'A' * 64}") == {
        "account": hashlib.sha256(first.encode()).digest(),
        "admin": bytes.fromhex("a" * 64),
    }
    assert parse_credentials("") == {} and parse_credentials(None) == {}


@pytest.mark.parametrize(
    "raw",
    ["account", "account:abc", f"Account:{'a' * 64}", f"account:{'g' * 64}", f"a:{'a' * 64},a:{'b' * 64}"],
)
def test_malformed_auth_entries_stop_the_start(raw: str) -> None:
    with pytest.raises(ValueError, match="PAROVOZ_AUTH_SERVICE_CREDENTIALS"):
        parse_credentials(raw)
