"""Profile rules of the Account domain: validation of each editable field, the public/private split."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from parovoz.services.account.domain import profile
from parovoz.services.account.domain.countries import COUNTRY_CODES, is_country_code

TODAY = date(2026, 11, 27)


def problems_of(given: dict) -> list[tuple[str, str]]:
    with pytest.raises(profile.InvalidProfile) as caught:
        profile.validate_changes(given, today=TODAY)
    return [(p.field, p.code) for p in caught.value.problems]


def sample_account(**overrides) -> profile.Account:
    values = dict(
        id="6f1c2a3e-1b2c-4d5e-8f90-123456789abc",
        username="ivan",
        email="ivan@example.ru",
        display_name="Иван",
        avatar_url="https://cdn.example.ru/a.png",
        bio="Играю в стратегии",
        country="RU",
        language="ru",
        birth_date=date(1990, 5, 17),
        status=profile.STATUS_ACTIVE,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        updated_at=datetime(2026, 2, 1, tzinfo=UTC),
    )
    values.update(overrides)
    return profile.Account(**values)


def test_only_given_fields_are_returned_and_normalised() -> None:
    cleaned = profile.validate_changes({"display_name": "  Иван Петров  ", "bio": None}, today=TODAY)
    assert cleaned == {"display_name": "Иван Петров", "bio": None}


@pytest.mark.parametrize(
    "name",
    ["", "   ", "x" * 65, "bad\x00name", "line\nbreak", "tab\there", "\u202enimda", None, 42],
)
def test_display_name_rejects(name: object) -> None:
    assert problems_of({"display_name": name}) == [("display_name", profile.DISPLAY_NAME_INVALID)]


@pytest.mark.parametrize("name", ["a", "x" * 64, "Игрок 🎮", "Zoë‍👩‍💻"])
def test_display_name_accepts(name: str) -> None:
    assert profile.validate_changes({"display_name": name}, today=TODAY) == {"display_name": name}


@pytest.mark.parametrize(
    "url",
    [
        "http://cdn.example.ru/a.png",
        "javascript:alert(1)",
        "//cdn.example.ru/a.png",
        "https://",
        "https://bank.ru@evil.example/a.png",
        "https://cdn.example.ru/a b.png",
        "https://cdn.example.ru:99999/a.png",
        "https://cdn.example.ru/" + "a" * 2030,
        "",
        7,
    ],
)
def test_avatar_url_rejects(url: object) -> None:
    assert problems_of({"avatar_url": url}) == [("avatar_url", profile.AVATAR_URL_INVALID)]


def test_avatar_url_accepts_https_and_null() -> None:
    url = "https://cdn.example.ru/avatars/1.png?v=2"
    assert profile.validate_changes({"avatar_url": url}, today=TODAY) == {"avatar_url": url}
    assert profile.validate_changes({"avatar_url": None}, today=TODAY) == {"avatar_url": None}
    longest = "https://cdn.example.ru/" + "a" * (2048 - len("https://cdn.example.ru/"))
    assert profile.validate_changes({"avatar_url": longest}, today=TODAY) == {"avatar_url": longest}


def test_bio_limits() -> None:
    assert profile.validate_changes({"bio": "строка\nвторая\tтаб"}, today=TODAY) == {
        "bio": "строка\nвторая\tтаб"
    }
    assert profile.validate_changes({"bio": "x" * 1000}, today=TODAY) == {"bio": "x" * 1000}
    assert profile.validate_changes({"bio": "   "}, today=TODAY) == {"bio": None}
    assert problems_of({"bio": "x" * 1001}) == [("bio", profile.BIO_INVALID)]
    assert problems_of({"bio": "bell\x07"}) == [("bio", profile.BIO_INVALID)]


@pytest.mark.parametrize("code", ["ru", "Ru", "RUS", "XK", "UK", "ZZ", "", 1])
def test_country_rejects(code: object) -> None:
    assert problems_of({"country": code}) == [("country", profile.COUNTRY_INVALID)]


def test_country_list_is_the_iso_list() -> None:
    assert len(COUNTRY_CODES) == 249
    for code in ("RU", "KZ", "BY", "US", "AQ", "SS", "BQ"):
        assert is_country_code(code)
    assert profile.validate_changes({"country": None}, today=TODAY) == {"country": None}


@pytest.mark.parametrize("language", ["de", "RU", "", None, "ru-RU"])
def test_language_rejects(language: object) -> None:
    assert problems_of({"language": language}) == [("language", profile.LANGUAGE_UNSUPPORTED)]


@pytest.mark.parametrize(
    "born",
    ["2026-11-28", "1899-12-31", "2001-02-30", "1990-5-17", "17.05.1990", "1990-05-17T00:00:00", 1990],
)
def test_birth_date_rejects(born: object) -> None:
    assert problems_of({"birth_date": born}) == [("birth_date", profile.BIRTH_DATE_INVALID)]


def test_birth_date_bounds_are_inclusive() -> None:
    assert profile.validate_changes({"birth_date": "1900-01-01"}, today=TODAY) == {
        "birth_date": date(1900, 1, 1)
    }
    assert profile.validate_changes({"birth_date": "2026-11-27"}, today=TODAY) == {"birth_date": TODAY}


def test_every_offending_field_is_reported() -> None:
    found = problems_of({"display_name": "", "country": "xx", "language": "ru", "birth_date": "x"})
    assert found == [
        ("display_name", profile.DISPLAY_NAME_INVALID),
        ("country", profile.COUNTRY_INVALID),
        ("birth_date", profile.BIRTH_DATE_INVALID),
    ]


def test_non_editable_field_is_a_programming_error() -> None:
    with pytest.raises(KeyError):
        profile.validate_changes({"email": "x@example.ru"}, today=TODAY)


def test_public_profile_hides_private_fields() -> None:
    public = profile.public_profile(sample_account())
    assert set(public) == {"username", "display_name", "avatar_url", "bio", "country", "created_at"}
    for private in ("email", "birth_date", "language", "status", "updated_at"):
        assert private not in public


def test_private_profile_has_everything_the_owner_sees() -> None:
    account = sample_account()
    private = profile.private_profile(account)
    assert private["email"] == "ivan@example.ru"
    assert private["birth_date"] == date(1990, 5, 17)
    assert set(private) == set(profile.PRIVATE_FIELDS)


def test_blocked_accounts_are_visible_to_staff_only() -> None:
    blocked = sample_account(status=profile.STATUS_BLOCKED)
    assert not profile.is_visible(blocked, viewer_is_staff=False)
    assert profile.is_visible(blocked, viewer_is_staff=True)
    assert profile.is_visible(sample_account(), viewer_is_staff=False)


def test_new_account_from_registration() -> None:
    at = datetime(2026, 11, 27, 10, tzinfo=UTC)
    account = profile.new_account(
        user_id="6f1c2a3e-1b2c-4d5e-8f90-123456789abc",
        username="ivan_2000",
        email="ivan@example.ru",
        language="en",
        registered_at=at,
    )
    assert account.display_name == "ivan_2000"
    assert account.language == "en"
    assert account.status == profile.STATUS_ACTIVE
    assert account.created_at == account.updated_at == at
    assert (account.avatar_url, account.bio, account.country, account.birth_date) == (None,) * 4


def test_registration_language_falls_back_to_russian() -> None:
    assert profile.registration_language("de") == "ru"
    assert profile.registration_language(None) == "ru"
    assert profile.registration_language("en") == "en"


def test_default_display_name_fits_the_rules() -> None:
    assert profile.default_display_name("x" * 100) == "x" * 64
    assert profile.default_display_name("\x00\x01") == "user"


def test_canonical_user_id() -> None:
    assert (
        profile.canonical_user_id("6F1C2A3E1B2C4D5E8F90123456789ABC")
        == "6f1c2a3e-1b2c-4d5e-8f90-123456789abc"
    )
    for bad in ("", "me", "not-a-uuid", "6f1c2a3e-1b2c-4d5e-8f90-123456789abcd", "x" * 100):
        assert profile.canonical_user_id(bad) is None


def test_actual_changes_keeps_only_values_that_differ() -> None:
    account = sample_account(country="RU", bio=None, birth_date=None)
    cleaned = profile.validate_changes(
        {"display_name": " Иван ", "country": "KZ", "bio": None, "birth_date": "2000-01-02"}, today=TODAY
    )
    assert profile.actual_changes(account, cleaned) == {"country": "KZ", "birth_date": date(2000, 1, 2)}
    assert profile.actual_changes(account, {}) == {}
