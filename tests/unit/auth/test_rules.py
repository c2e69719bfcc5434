"""Sign-up input rules: e-mail normalisation, username and password bounds."""

from __future__ import annotations

import pytest

from parovoz.services.auth.domain import rules
from parovoz.services.auth.domain.rules import RuleViolation


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("  Alice@Example.COM ", "alice@example.com"),
        ("bob.smith+games@mail.ru", "bob.smith+games@mail.ru"),
        ("user@пример.рф", "user@xn--e1afmkfd.xn--p1ai"),
    ],
)
def test_email_is_trimmed_lowercased_and_ascii(raw: str, normalised: str) -> None:
    assert rules.normalize_email(raw) == normalised


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "plain",
        "a@b",
        "two@@example.com",
        "a@b@example.com",
        ".dot@example.com",
        "dots..twice@example.com",
        "space in@example.com",
        "user@-bad.example.com",
        "user@example.123",
        "x" * 65 + "@example.com",
        "u@" + "a" * 250 + ".com",
    ],
)
def test_bad_emails_are_refused(raw: str) -> None:
    with pytest.raises(RuleViolation) as caught:
        rules.normalize_email(raw)
    assert caught.value.code == "INVALID_EMAIL"


@pytest.mark.parametrize("name", ["abc", "Player_One", "a.b-c", "x" * 32, "007"])
def test_good_usernames_are_kept_as_typed(name: str) -> None:
    assert rules.check_username(name) == name


@pytest.mark.parametrize("name", ["ab", "x" * 33, "with space", "имя", "at@sign", "semi;colon", ""])
def test_bad_usernames_are_refused(name: str) -> None:
    with pytest.raises(RuleViolation) as caught:
        rules.check_username(name)
    assert caught.value.code == "INVALID_USERNAME"


@pytest.mark.parametrize("password", ["12345678", "a" * 256, "  spaces  ", "пароль-длинный"])
def test_passwords_of_8_to_256_characters_are_taken_unchanged(password: str) -> None:
    assert rules.check_password(password) == password


@pytest.mark.parametrize("password", ["", "1234567", "a" * 257])
def test_passwords_outside_bounds_are_refused(password: str) -> None:
    with pytest.raises(RuleViolation) as caught:
        rules.check_password(password)
    assert caught.value.code == "INVALID_PASSWORD"


def test_login_kind_and_key() -> None:
    assert rules.is_email_login("a@b.c")
    assert not rules.is_email_login("player")
    assert rules.normalize_login("  Player.One ") == "player.one"


def test_argon2_cost_below_owasp_minimum_is_refused() -> None:
    import pytest

    from parovoz.chassis.config import Settings
    from parovoz.services.auth.config import AuthConfig

    weak = Settings.from_env({"PAROVOZ_AUTH_ARGON2_MEMORY_KIB": "8192", "PAROVOZ_AUTH_ARGON2_TIME_COST": "1"})
    with pytest.raises(ValueError, match="OWASP"):
        AuthConfig.from_settings(weak)
    # OWASP's equivalent row: less memory, more passes
    traded = Settings.from_env(
        {"PAROVOZ_AUTH_ARGON2_MEMORY_KIB": "12288", "PAROVOZ_AUTH_ARGON2_TIME_COST": "4"}
    )
    assert AuthConfig.from_settings(traded).hash_params.time_cost == 4
    assert AuthConfig.from_settings(Settings.from_env({})).hash_workers >= 1
