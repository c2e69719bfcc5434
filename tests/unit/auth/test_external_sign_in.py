"""Pure parts of external sign-in: Telegram's check, PKCE, OK's signature, usernames."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from parovoz.services.auth.domain import rules, telegram
from parovoz.services.auth.domain.external import (
    ExternalProfile,
    is_placeholder_email,
    pkce_challenge,
    pkce_verifier,
    placeholder_email,
    username_base,
    username_candidates,
)
from parovoz.services.auth.oauth.ok import signature

BOT_TOKEN = "123456:ABC-sandbox-bot-token"
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def widget_payload(**overrides: object) -> dict[str, object]:
    """What the Login Widget hands the page, signed here the way Telegram's docs say."""
    fields: dict[str, object] = {
        "id": 424242,
        "first_name": "Иван",
        "last_name": "Паровозов",
        "username": "ivan_parovozov",
        "photo_url": "https://t.me/i/userpic/320/ivan.jpg",
        "auth_date": int(NOW.timestamp()) - 60,
        **overrides,
    }
    check = "\n".join(f"{k}={fields[k]}" for k in sorted(fields))
    secret = hashlib.sha256(BOT_TOKEN.encode()).digest()
    fields["hash"] = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    return fields


def test_telegram_payload_signed_with_the_bot_token_is_accepted() -> None:
    payload = widget_payload()
    assert telegram.verify(payload, BOT_TOKEN, now=NOW) == NOW - timedelta(seconds=60)


def test_telegram_data_check_string_is_sorted_and_skips_the_hash() -> None:
    payload = {"b": "2", "a": 1, "hash": "x"}
    assert telegram.data_check_string(payload) == "a=1\nb=2"


def test_telegram_unknown_fields_count_in_the_hash() -> None:
    payload = widget_payload(allows_write_to_pm="true")
    telegram.verify(payload, BOT_TOKEN, now=NOW)
    del payload["allows_write_to_pm"]
    with pytest.raises(telegram.TelegramAuthError) as caught:
        telegram.verify(payload, BOT_TOKEN, now=NOW)
    assert caught.value.code == "INVALID_TELEGRAM_AUTH"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda p: p.update(id=1),
        lambda p: p.update(first_name="Пётр"),
        lambda p: p.update(hash="0" * 64),
        lambda p: p.update(hash=None),
        lambda p: p.pop("hash"),
        lambda p: p.update(username={"nested": "object"}),
    ],
)
def test_telegram_tampered_payload_is_refused(tamper) -> None:
    payload = widget_payload()
    tamper(payload)
    with pytest.raises(telegram.TelegramAuthError) as caught:
        telegram.verify(payload, BOT_TOKEN, now=NOW)
    assert caught.value.code == "INVALID_TELEGRAM_AUTH"


def test_telegram_payload_of_another_bot_is_refused() -> None:
    with pytest.raises(telegram.TelegramAuthError):
        telegram.verify(widget_payload(), "999:another-bot", now=NOW)


def test_telegram_stale_payload_is_refused() -> None:
    payload = widget_payload(auth_date=int((NOW - timedelta(days=1, seconds=1)).timestamp()))
    with pytest.raises(telegram.TelegramAuthError) as caught:
        telegram.verify(payload, BOT_TOKEN, now=NOW)
    assert caught.value.code == "TELEGRAM_AUTH_EXPIRED"


def test_telegram_payload_from_the_future_is_refused_beyond_the_skew() -> None:
    within = widget_payload(auth_date=int((NOW + timedelta(minutes=4)).timestamp()))
    telegram.verify(within, BOT_TOKEN, now=NOW)
    beyond = widget_payload(auth_date=int((NOW + timedelta(minutes=6)).timestamp()))
    with pytest.raises(telegram.TelegramAuthError) as caught:
        telegram.verify(beyond, BOT_TOKEN, now=NOW)
    assert caught.value.code == "TELEGRAM_AUTH_EXPIRED"


def test_telegram_payload_digest_differs_per_payload() -> None:
    first, second = widget_payload(), widget_payload(auth_date=int(NOW.timestamp()) - 61)
    assert telegram.payload_digest(first) == telegram.payload_digest(dict(first))
    assert telegram.payload_digest(first) != telegram.payload_digest(second)


def test_pkce_s256_matches_rfc_7636_appendix_b() -> None:
    assert (
        pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
        == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )


def test_pkce_verifier_is_long_random_and_unreserved() -> None:
    first, second = pkce_verifier(), pkce_verifier()
    assert first != second
    assert 43 <= len(first) <= 128
    assert set(first) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def test_ok_signature_matches_a_published_example() -> None:
    # aiookru's documented server-server example (MD5(access_token + secret) as session secret)
    params = {"application_key": "ABCDEFGHIGKLMNOPK", "format": "json", "method": "events.get"}
    token = "-s-84W-s3egarWUsbkq-IWTucuedzTKT8VUXIA.s4Xx8IW7"
    assert signature(params, token, "ABC123DEF456GHI789JKL123") == "232c8eb921951c4dba9b72606f9ddb4c"
    # the access token itself never enters the signed string
    assert signature({**params, "access_token": token}, token, "ABC123DEF456GHI789JKL123") == (
        "232c8eb921951c4dba9b72606f9ddb4c"
    )


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        (ExternalProfile("vk", "1", "Иван", "Паровозов"), "Ivan_Parovozov"),
        (ExternalProfile("vk", "1", "Жанна", "Щукина-Ёлкина"), "Zhanna_Shchukina-Elkina"),
        (ExternalProfile("telegram", "1", "Иван", username="ivan_p"), "ivan_p"),
        (ExternalProfile("ok", "1", "李", "王"), "ok_user"),
        (ExternalProfile("ok", "1", "Ян"), "Yan"),
        (ExternalProfile("vk", "1", "José", "Müller"), "Jose_Muller"),
        (ExternalProfile("vk", "1", "A" * 60), "A" * 27),
    ],
)
def test_username_is_derived_from_the_providers_names(profile: ExternalProfile, expected: str) -> None:
    assert username_base(profile) == expected


def test_every_username_candidate_is_valid_and_they_differ() -> None:
    profile = ExternalProfile("vk", "1", "Иван", "Паровозов" * 5)
    candidates = list(username_candidates(profile))
    assert candidates[0] == username_base(profile) and len(candidates) > 2
    for candidate in candidates:
        assert rules.check_username(candidate) == candidate


def test_placeholder_email_never_is_a_deliverable_address() -> None:
    email = placeholder_email("vk", "0b6f5b0a-6f8d-4a8e-9d1a-5c9d8c7e6f5a")
    assert email.endswith(".invalid") and is_placeholder_email(email)
    assert email == email.lower()
