"""Account's rules for privacy, settings, data exports and deletion: plain Python, no database."""

from __future__ import annotations

import io
import zipfile
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import orjson
import pytest

from parovoz.chassis.errors import message_for
from parovoz.services.account import data_errors
from parovoz.services.account.domain import deletion, exports, preferences, privacy, profile
from parovoz.services.account.domain.privacy import Privacy, Viewer

OWNER = profile.Account(
    id="6f1c2a3e-1b2c-4d5e-8f90-123456789abc",
    username="ivan",
    email="ivan@example.ru",
    display_name="Иван",
    avatar_url="https://cdn.example.ru/ivan.png",
    bio="Люблю стратегии",
    country="RU",
    language="ru",
    birth_date=date(1990, 5, 17),
    status=profile.STATUS_ACTIVE,
    created_at=datetime(2026, 1, 1, tzinfo=UTC),
    updated_at=datetime(2026, 2, 1, tzinfo=UTC),
)
STRANGER = Viewer(user_id="0b5e3c1d-0000-4000-8000-000000000001")
OWNER_SELF = Viewer(user_id=OWNER.id)
STAFF = Viewer(user_id="0b5e3c1d-0000-4000-8000-000000000002", is_staff=True)
ANONYMOUS = Viewer()


@pytest.mark.parametrize(
    ("visibility", "viewer", "sees"),
    [
        (privacy.PUBLIC, ANONYMOUS, True),
        (privacy.PUBLIC, STRANGER, True),
        (privacy.FRIENDS, ANONYMOUS, False),
        # nobody is a friend until Social answers friendship
        (privacy.FRIENDS, STRANGER, False),
        (privacy.PRIVATE, ANONYMOUS, False),
        (privacy.PRIVATE, STRANGER, False),
        (privacy.PRIVATE, OWNER_SELF, True),
        (privacy.FRIENDS, OWNER_SELF, True),
        (privacy.PRIVATE, STAFF, True),
        (privacy.FRIENDS, STAFF, True),
    ],
)
def test_can_see(visibility: str, viewer: Viewer, sees: bool) -> None:
    assert privacy.can_see(viewer, OWNER, Privacy(visibility=visibility)) is sees


def test_private_profile_shows_only_the_minimal_card_to_others() -> None:
    hidden = privacy.profile_for(STRANGER, OWNER, Privacy(visibility=privacy.PRIVATE))
    assert hidden == {
        "username": "ivan",
        "display_name": "Иван",
        "avatar_url": "https://cdn.example.ru/ivan.png",
        "visibility": "private",
    }
    full = privacy.profile_for(STAFF, OWNER, Privacy(visibility=privacy.PRIVATE))
    assert full["bio"] == "Люблю стратегии" and full["country"] == "RU"
    # still the public profile: e-mail and birth date are never on /users/{id}
    assert "email" not in full and "birth_date" not in full


def test_privacy_changes_are_checked_field_by_field() -> None:
    assert privacy.validate_changes({"visibility": "friends", "show_library": False}) == {
        "visibility": "friends",
        "show_library": False,
    }
    with pytest.raises(profile.InvalidProfile) as failed:
        privacy.validate_changes({"visibility": "secret", "show_playtime": "yes", "show_library": None})
    assert [(p.field, p.code) for p in failed.value.problems] == [
        ("visibility", privacy.VISIBILITY_INVALID),
        ("show_playtime", privacy.PRIVACY_FLAG_INVALID),
        ("show_library", privacy.PRIVACY_FLAG_INVALID),
    ]
    with pytest.raises(KeyError):
        privacy.validate_changes({"roles": ["admin"]})


def test_only_real_privacy_changes_count() -> None:
    current = Privacy(visibility=privacy.PRIVATE, show_playtime=False)
    assert privacy.actual_changes(current, {"visibility": "private", "show_playtime": True}) == {
        "show_playtime": True
    }


def test_new_accounts_get_every_notification_but_marketing() -> None:
    defaults = preferences.default_notifications()
    assert set(defaults) == {"email", "push"}
    for channel in defaults.values():
        assert channel == {"security": True, "purchases": True, "social": True, "marketing": False}


def test_security_mails_cannot_be_turned_off() -> None:
    current = preferences.default_notifications()
    changed = preferences.merged(current, {"email": {"marketing": True}, "push": {"security": False}})
    assert changed["email"]["marketing"] is True and changed["push"]["security"] is False
    assert current["email"]["marketing"] is False  # the input is not modified
    with pytest.raises(profile.InvalidProfile) as failed:
        preferences.merged(current, {"email": {"security": False, "social": None}})
    assert [(p.field, p.code) for p in failed.value.problems] == [
        ("notifications.email.security", preferences.SECURITY_NOTIFICATIONS_REQUIRED),
        ("notifications.email.social", preferences.NOTIFICATION_PREFERENCE_INVALID),
    ]
    # even a stored value that says otherwise (written by hand) reads as on
    assert preferences.normalised({"email": {"security": False}})["email"]["security"] is True


def test_daily_export_limit() -> None:
    now = datetime(2026, 11, 27, 12, tzinfo=UTC)
    hour = timedelta(hours=1)
    assert exports.retry_after_limit([now - hour, now - 2 * hour], now) is None
    # three in the window: the next is possible when the oldest leaves it
    retry = exports.retry_after_limit([now - 20 * hour, now - hour, now - 2 * hour], now)
    assert retry is not None and 4 * 3600 <= retry <= 4 * 3600 + 1


def test_failed_runs_retry_then_fail() -> None:
    assert [exports.status_after_failure(n) for n in range(1, exports.MAX_ATTEMPTS + 1)] == [
        *([exports.PENDING] * (exports.MAX_ATTEMPTS - 1)),
        exports.FAILED,
    ]
    assert exports.retry_delay(2) > exports.retry_delay(1) > timedelta(0)


def test_an_export_is_downloadable_only_while_completed_and_unexpired() -> None:
    now = datetime(2026, 11, 27, tzinfo=UTC)
    done = exports.DataExport("e", "u", exports.COMPLETED, now, now, now + exports.KEEP_FOR)
    assert done.downloadable(now)
    assert not done.downloadable(now + exports.KEEP_FOR)
    assert not replace(done, status=exports.RUNNING).downloadable(now)


def test_archive_holds_both_documents_and_a_readme() -> None:
    archive = exports.build_archive(
        {"profile": {"username": "ivan", "createdAt": datetime(2026, 1, 1, tzinfo=UTC)}},
        {"user": {"email": "ivan@example.ru"}},
    )
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        assert sorted(opened.namelist()) == ["README.txt", "account.json", "auth.json"]
        account = orjson.loads(opened.read("account.json"))
        assert account["profile"] == {"username": "ivan", "createdAt": "2026-01-01T00:00:00Z"}
        assert orjson.loads(opened.read("auth.json"))["user"]["email"] == "ivan@example.ru"
        assert "152" in opened.read("README.txt").decode()


def test_anonymisation_leaves_nothing_personal() -> None:
    identity = deletion.anonymised_identity(OWNER.id)
    assert OWNER.username not in identity["username"] and OWNER.email not in identity["email"]
    assert identity["email"].endswith("@deleted.invalid")
    assert identity != deletion.anonymised_identity("0b5e3c1d-0000-4000-8000-000000000001")
    cleared = deletion.anonymised_profile()
    assert cleared["display_name"] == deletion.DELETED_DISPLAY_NAME
    assert all(cleared[name] is None for name in ("avatar_url", "bio", "country", "birth_date"))
    # and the cleared profile passes the profile rules (the table's checks hold)
    profile.validate_changes({"display_name": cleared["display_name"]}, today=date(2026, 1, 1))


def test_a_deleted_account_is_visible_to_nobody() -> None:
    gone = replace(OWNER, status=profile.STATUS_DELETED)
    assert deletion.is_deleted(gone)
    assert not profile.is_visible(gone, viewer_is_staff=True)
    assert not profile.is_visible(gone, viewer_is_staff=False)


@pytest.mark.parametrize(
    "code",
    [
        privacy.VISIBILITY_INVALID,
        privacy.PRIVACY_FLAG_INVALID,
        preferences.SECURITY_NOTIFICATIONS_REQUIRED,
        preferences.NOTIFICATION_PREFERENCE_INVALID,
        data_errors.DATA_EXPORT_IN_PROGRESS,
        data_errors.DATA_EXPORT_LIMIT_REACHED,
        data_errors.DATA_EXPORT_NOT_FOUND,
        data_errors.DATA_EXPORT_NOT_READY,
        data_errors.ACCOUNT_DELETED,
    ],
)
def test_codes_have_both_languages(code: str) -> None:
    params = {"values": "a", "limit": 3, "retryAfter": 10}
    ru, en = message_for(code, "ru", params), message_for(code, "en", params)
    assert ru != en and all(ru) and all(en)
