"""Accounts and profiles: what a profile may hold, what others may see, how it is created.

Plain Python: no HTTP, gRPC or SQL here. Field names are the Python (snake_case) names; the
adapters translate them to camelCase attributes or proto fields.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit

from parovoz.services.account.domain.countries import is_country_code

LANGUAGES: tuple[str, ...] = ("ru", "en")
DEFAULT_LANGUAGE = "ru"

STATUS_ACTIVE = "active"
STATUS_BLOCKED = "blocked"
# The user deleted the account: anonymised, shown to nobody, never changing again.
STATUS_DELETED = "deleted"
STATUSES: tuple[str, ...] = (STATUS_ACTIVE, STATUS_BLOCKED, STATUS_DELETED)

DISPLAY_NAME_MAX = 64
BIO_MAX = 1000
AVATAR_URL_MAX = 2048
EARLIEST_BIRTH_DATE = date(1900, 1, 1)

# What anyone (anonymous included) may read about an account. E-mail, birth date, language and
# status are personal data (152-FZ) or internal state and stay with the owner and staff.
PUBLIC_FIELDS: tuple[str, ...] = ("username", "display_name", "avatar_url", "bio", "country", "created_at")
# What the owner sees about themselves, and what staff sees in the back office.
PRIVATE_FIELDS: tuple[str, ...] = (
    "username",
    "email",
    "display_name",
    "avatar_url",
    "bio",
    "country",
    "language",
    "birth_date",
    "status",
    "created_at",
    "updated_at",
)
# What staff sees in the back-office listing: the private fields and why the status is what it is.
STAFF_FIELDS: tuple[str, ...] = (*PRIVATE_FIELDS, "status_reason", "status_changed_at")
# What the owner may change; everything else (username, e-mail, status, roles, ids) is owned by
# Auth or by staff, and an attempt to set it is refused, not ignored.
EDITABLE_FIELDS: tuple[str, ...] = ("display_name", "avatar_url", "bio", "country", "language", "birth_date")

# Bidirectional overrides and isolates let a name render as something other than what it is
# ("‮nimda" shows as "admin"); they are format characters, so the control-character check
# alone would let them through.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# Error codes of profile validation (one per field; messages are registered by the service).
DISPLAY_NAME_INVALID = "DISPLAY_NAME_INVALID"
AVATAR_URL_INVALID = "AVATAR_URL_INVALID"
BIO_INVALID = "BIO_INVALID"
COUNTRY_INVALID = "COUNTRY_INVALID"
LANGUAGE_UNSUPPORTED = "LANGUAGE_UNSUPPORTED"
BIRTH_DATE_INVALID = "BIRTH_DATE_INVALID"


@dataclass(frozen=True)
class Account:
    """An account with its profile, as the service knows it."""

    id: str
    username: str
    email: str
    display_name: str
    avatar_url: str | None
    bio: str | None
    country: str | None
    language: str
    birth_date: date | None
    status: str
    created_at: datetime
    updated_at: datetime
    # the last status change by staff (or the deletion): why and when
    status_reason: str | None = None
    status_changed_at: datetime | None = None


@dataclass(frozen=True)
class FieldProblem:
    """One invalid field of a profile change: the snake_case field name and its error code."""

    field: str
    code: str
    params: Mapping[str, Any] = field(default_factory=dict)


class InvalidProfile(ValueError):
    """A profile change breaks the rules; carries one problem per offending field."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        self.problems = problems
        super().__init__(", ".join(f"{p.field}: {p.code}" for p in problems))


def _is_control(char: str) -> bool:
    return unicodedata.category(char) in {"Cc", "Zl", "Zp"} or char in _BIDI_CONTROLS


def _clean_display_name(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError
    name = value.strip()
    if not 1 <= len(name) <= DISPLAY_NAME_MAX or any(_is_control(c) for c in name):
        raise ValueError
    return name


def _clean_avatar_url(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= AVATAR_URL_MAX:
        raise ValueError
    if any(_is_control(c) or c.isspace() for c in value):
        raise ValueError
    parts = urlsplit(value)  # may raise ValueError itself (bad port, bad IPv6 literal)
    # Credentials in the authority ("https://bank.ru@evil.example/") only serve to mislead.
    if parts.scheme != "https" or not parts.hostname or parts.username is not None:
        raise ValueError
    _ = parts.port  # raises ValueError on a non-numeric or out-of-range port
    return value


def _clean_bio(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError
    bio = value.strip()
    # Line breaks and tabs are how people lay out a bio; other control characters are not text.
    if len(bio) > BIO_MAX or any(_is_control(c) and c not in "\n\t" for c in bio):
        raise ValueError
    return bio or None


def _clean_country(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not is_country_code(value):
        raise ValueError
    return value


def _clean_language(value: Any) -> str:
    if value not in LANGUAGES:
        raise ValueError
    return str(value)


def _clean_birth_date(value: Any, today: date) -> date | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise ValueError
    born = date.fromisoformat(value)  # raises ValueError on 2001-02-30
    if not EARLIEST_BIRTH_DATE <= born <= today:
        raise ValueError
    return born


def validate_changes(given: Mapping[str, Any], *, today: date) -> dict[str, Any]:
    """Check and normalise the fields the owner sent (snake_case name -> raw value).

    Only the given fields are returned, so absent fields stay as they are and an explicit `None`
    clears the optional ones. Raises `InvalidProfile` listing every offending field. A name
    outside `EDITABLE_FIELDS` is a programming error (the adapter refuses those first): KeyError.
    """
    rules = {
        "display_name": (_clean_display_name, DISPLAY_NAME_INVALID, {"max": DISPLAY_NAME_MAX}),
        "avatar_url": (_clean_avatar_url, AVATAR_URL_INVALID, {"max": AVATAR_URL_MAX}),
        "bio": (_clean_bio, BIO_INVALID, {"max": BIO_MAX}),
        "country": (_clean_country, COUNTRY_INVALID, {}),
        "language": (_clean_language, LANGUAGE_UNSUPPORTED, {"languages": ", ".join(LANGUAGES)}),
        "birth_date": (
            lambda v: _clean_birth_date(v, today),
            BIRTH_DATE_INVALID,
            {"earliest": EARLIEST_BIRTH_DATE.isoformat()},
        ),
    }
    cleaned: dict[str, Any] = {}
    problems: list[FieldProblem] = []
    for name, raw in given.items():
        if name not in rules:
            raise KeyError(f"{name} is not an editable profile field")
        clean, code, params = rules[name]
        try:
            cleaned[name] = clean(raw)
        except ValueError:
            problems.append(FieldProblem(name, code, params))
    if problems:
        raise InvalidProfile(problems)
    return cleaned


def actual_changes(account: Account, cleaned: Mapping[str, Any]) -> dict[str, Any]:
    """The validated changes that differ from what `account` holds (in `cleaned`'s order): sending
    a field with the value it already has changes nothing."""
    return {name: value for name, value in cleaned.items() if getattr(account, name) != value}


def default_display_name(username: str) -> str:
    """The display name a new account starts with: its username, within the display-name rules."""
    name = "".join(c for c in username if not _is_control(c)).strip()[:DISPLAY_NAME_MAX]
    return name or "user"


def registration_language(language: str | None) -> str:
    """The profile language from a registration: Auth's value when supported, else the default."""
    return language if language in LANGUAGES else DEFAULT_LANGUAGE


def new_account(
    *, user_id: str, username: str, email: str, language: str | None, registered_at: datetime
) -> Account:
    """The account and profile a registration creates: display name = username, active."""
    return Account(
        id=user_id,
        username=username,
        email=email,
        display_name=default_display_name(username),
        avatar_url=None,
        bio=None,
        country=None,
        language=registration_language(language),
        birth_date=None,
        status=STATUS_ACTIVE,
        created_at=registered_at,
        updated_at=registered_at,
    )


def is_visible(account: Account, *, viewer_is_staff: bool) -> bool:
    """Whether a profile may be shown at all: a blocked account is hidden from everyone but staff,
    a deleted one from everyone."""
    if account.status == STATUS_DELETED:
        return False
    return account.status != STATUS_BLOCKED or viewer_is_staff


def public_profile(account: Account) -> dict[str, Any]:
    """The fields anyone may see (snake_case name -> value)."""
    return {name: getattr(account, name) for name in PUBLIC_FIELDS}


def private_profile(account: Account) -> dict[str, Any]:
    """Everything about the account, for its owner and for staff."""
    return {name: getattr(account, name) for name in PRIVATE_FIELDS}


def staff_profile(account: Account) -> dict[str, Any]:
    """What the staff listing shows: the private profile with the status reason and time."""
    return {name: getattr(account, name) for name in STAFF_FIELDS}


def canonical_user_id(text: str) -> str | None:
    """`text` as a canonical (lower-case, hyphenated) UUID string, or None when it is not a UUID."""
    # uuid.UUID also takes "{...}" and "urn:uuid:" forms; anything longer is not an id of ours.
    if not isinstance(text, str) or len(text) > 45:
        return None
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return None
