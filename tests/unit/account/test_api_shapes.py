"""Account's REST shapes that need no database: documents, If-Match, the error catalogue."""

from __future__ import annotations

from datetime import UTC, date, datetime

from parovoz.chassis.errors import message_for
from parovoz.services.account import api
from parovoz.services.account.domain import profile
from parovoz.services.account.errors import ACCOUNT_NOT_FOUND, INVALID_USER_ID, TOO_MANY_USER_IDS

ACCOUNT = profile.Account(
    id="6f1c2a3e-1b2c-4d5e-8f90-123456789abc",
    username="ivan",
    email="ivan@example.ru",
    display_name="Иван",
    avatar_url=None,
    bio=None,
    country="RU",
    language="ru",
    birth_date=date(1990, 5, 17),
    status=profile.STATUS_ACTIVE,
    created_at=datetime(2026, 1, 1, tzinfo=UTC),
    updated_at=datetime(2026, 2, 1, tzinfo=UTC),
)


def test_own_document_is_a_users_resource_with_camel_case_attributes() -> None:
    data = api.own_document(ACCOUNT)["data"]
    assert (data["id"], data["type"]) == (ACCOUNT.id, "users")
    assert list(data["attributes"]) == [
        "username",
        "email",
        "displayName",
        "avatarUrl",
        "bio",
        "country",
        "language",
        "birthDate",
        "status",
        "createdAt",
        "updatedAt",
    ]


def test_public_document_carries_no_private_attribute() -> None:
    attributes = api.public_document(ACCOUNT)["data"]["attributes"]
    # the visibility says why a private profile shows less; it is no personal data
    public = {"username", "displayName", "avatarUrl", "bio", "country", "createdAt", "visibility"}
    assert set(attributes) == public


def test_if_match() -> None:
    assert api.if_match_satisfied('"abc"', '"abc"')
    assert api.if_match_satisfied('"x", "abc"', '"abc"')
    assert api.if_match_satisfied("*", '"abc"')
    assert not api.if_match_satisfied('W/"abc"', '"abc"')
    assert not api.if_match_satisfied('"abd"', '"abc"')


def test_every_code_has_russian_and_english_messages() -> None:
    codes = [
        ACCOUNT_NOT_FOUND,
        INVALID_USER_ID,
        TOO_MANY_USER_IDS,
        profile.DISPLAY_NAME_INVALID,
        profile.AVATAR_URL_INVALID,
        profile.BIO_INVALID,
        profile.COUNTRY_INVALID,
        profile.LANGUAGE_UNSUPPORTED,
        profile.BIRTH_DATE_INVALID,
    ]
    internal = message_for("INTERNAL_ERROR", "en")
    for code in codes:
        ru, en = message_for(code, "ru"), message_for(code, "en")
        assert en != internal and ru != en, code
    title, detail = message_for(profile.DISPLAY_NAME_INVALID, "en", {"max": 64})
    assert (title, detail) == ("Invalid display name", "1 to 64 characters, no control characters.")


def test_listing_offers_what_the_spec_promises() -> None:
    spec = api.USERS_COLLECTION
    assert set(spec.sortable) == {"createdAt", "username", "displayName", "country"}
    assert tuple(spec.default_sort) == ("-createdAt",)
    assert "password" not in spec.fields
