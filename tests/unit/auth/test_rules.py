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


@pytest.mark.parametrize("password", ["k8#vQ2!z", "a" * 256, "  spaces  ", "пароль-длинный"])
def test_passwords_of_8_to_256_characters_are_taken_unchanged(password: str) -> None:
    assert rules.check_password(password) == password


@pytest.mark.parametrize("password", ["", "1234567", "a" * 257])
def test_passwords_outside_bounds_are_refused(password: str) -> None:
    with pytest.raises(RuleViolation) as caught:
        rules.check_password(password)
    assert caught.value.code == "INVALID_PASSWORD"


def test_the_common_password_list_is_shipped_lower_case_and_long_enough() -> None:
    common = rules.common_passwords()
    assert 5_000 <= len(common) <= 10_000
    assert all(len(word) >= rules.PASSWORD_MIN and word == word.lower() for word in common)
    assert {"password", "12345678", "qwertyuiop", "iloveyou"} <= common
    assert rules.common_passwords() is common  # read once


@pytest.mark.parametrize(
    "password", ["password", "12345678", "qwertyuiop", "PassWord", "  iloveyou  ", "Password1", "FOOTBALL"]
)
def test_common_passwords_are_refused_whatever_the_case_and_spaces(password: str) -> None:
    with pytest.raises(RuleViolation) as caught:
        rules.check_password(password)
    assert caught.value.code == "PASSWORD_TOO_COMMON"


@pytest.mark.parametrize(
    "password",
    [
        "ann.smith@example.com",  # the e-mail
        "  ANN.SMITH@Example.com ",  # ... in another case, with surrounding spaces
        "ann.smith",  # the e-mail's local part
        "Ann.Smith ",
        "Player_2024",  # the username
        " player_2024",
    ],
)
def test_passwords_equal_to_the_identity_are_refused(password: str) -> None:
    with pytest.raises(RuleViolation) as caught:
        rules.check_password(password, email="ann.smith@example.com", username="Player_2024")
    assert caught.value.code == "PASSWORD_MATCHES_IDENTITY"


def test_an_idn_e_mail_is_matched_in_its_unicode_form_too() -> None:
    email = rules.normalize_email("user.name@пример.рф")
    for password in (email, "USER.NAME@пример.рф", "user.name"):
        with pytest.raises(RuleViolation) as caught:
            rules.check_password(password, email=email)
        assert caught.value.code == "PASSWORD_MATCHES_IDENTITY"


@pytest.mark.parametrize(
    "password",
    [
        "ann.smith-long-secret",  # contains the local part, but is not equal to it
        "Player_2024!",  # nearly the username: only equality is refused
        "correct horse battery staple",
        "pw-3f9a1c2b-secret",  # the e2e tests' shape
        "Тройка-Семёрка-Туз",
    ],
)
def test_strong_passwords_are_accepted_unchanged(password: str) -> None:
    assert rules.check_password(password, email="ann.smith@example.com", username="Player_2024") == password


def test_identity_checks_ignore_missing_or_empty_values() -> None:
    assert rules.check_password("k8#vQ2!z", email=None, username=None) == "k8#vQ2!z"
    assert rules.check_password("k8#vQ2!z", email="", username="") == "k8#vQ2!z"


def test_the_length_rule_comes_first() -> None:
    with pytest.raises(RuleViolation) as caught:
        rules.check_password("ann", username="ann")
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
