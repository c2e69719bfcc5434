"""Account settings: notification preferences per channel and category (the language is the
profile's, one source of truth).

Security notices by e-mail cannot be turned off: a stolen account must still reach its owner.
Marketing is opt-in (off until the user turns it on; sending it also needs the marketing consent).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from parovoz.services.account.domain.profile import FieldProblem, InvalidProfile

CHANNELS: tuple[str, ...] = ("email", "push")
CATEGORIES: tuple[str, ...] = ("security", "purchases", "social", "marketing")
# (channel, category) pairs that must stay on
REQUIRED: frozenset[tuple[str, str]] = frozenset({("email", "security")})

NOTIFICATION_PREFERENCE_INVALID = "NOTIFICATION_PREFERENCE_INVALID"
SECURITY_NOTIFICATIONS_REQUIRED = "SECURITY_NOTIFICATIONS_REQUIRED"

Notifications = dict[str, dict[str, bool]]


def default_notifications() -> Notifications:
    """What a new account starts with: everything on but marketing."""
    return {channel: {category: category != "marketing" for category in CATEGORIES} for channel in CHANNELS}


def normalised(stored: Mapping[str, Any] | None) -> Notifications:
    """Stored preferences completed with the defaults (a category added later starts at its default)."""
    result = default_notifications()
    for channel, categories in (stored or {}).items():
        if channel in result and isinstance(categories, Mapping):
            for category, value in categories.items():
                if category in result[channel] and isinstance(value, bool):
                    result[channel][category] = value
    for channel, category in REQUIRED:
        result[channel][category] = True
    return result


def merged(current: Notifications, changes: Mapping[str, Mapping[str, Any]]) -> Notifications:
    """`current` with the sent `changes` ({channel: {category: bool}}) applied; raises
    `InvalidProfile` (field = "notifications.<channel>.<category>") on a bad or forbidden value.
    The channel and category names are checked by the request model before this."""
    result = {channel: dict(categories) for channel, categories in current.items()}
    problems: list[FieldProblem] = []
    for channel, categories in changes.items():
        for category, value in categories.items():
            field = f"notifications.{channel}.{category}"
            if not isinstance(value, bool):
                problems.append(FieldProblem(field, NOTIFICATION_PREFERENCE_INVALID))
            elif (channel, category) in REQUIRED and value is not True:
                problems.append(FieldProblem(field, SECURITY_NOTIFICATIONS_REQUIRED))
            else:
                result[channel][category] = value
    if problems:
        raise InvalidProfile(problems)
    return result
