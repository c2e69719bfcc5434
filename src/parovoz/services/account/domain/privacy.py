"""Privacy: who may see a profile beyond its minimal card, and what others may see of the rest.

Plain Python. The owner and staff always see everything; others see the full profile only when
the visibility allows it (`can_see`), else the minimal card.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from parovoz.services.account.domain.profile import Account, FieldProblem, InvalidProfile, public_profile

PUBLIC = "public"
FRIENDS = "friends"
PRIVATE = "private"
VISIBILITIES: tuple[str, ...] = (PUBLIC, FRIENDS, PRIVATE)

# The booleans of what others (who may see the profile) see of the owner's activity.
FLAGS: tuple[str, ...] = ("show_playtime", "show_library", "show_online_status")
EDITABLE_FIELDS: tuple[str, ...] = ("visibility", *FLAGS)

# What anyone is shown of a profile they may not see: enough to recognise the user.
MINIMAL_CARD_FIELDS: tuple[str, ...] = ("username", "display_name", "avatar_url")

VISIBILITY_INVALID = "VISIBILITY_INVALID"
PRIVACY_FLAG_INVALID = "PRIVACY_FLAG_INVALID"


@dataclass(frozen=True)
class Privacy:
    """A user's privacy settings; new accounts start public with everything shown."""

    visibility: str = PUBLIC
    show_playtime: bool = True
    show_library: bool = True
    show_online_status: bool = True
    updated_at: datetime | None = None


@dataclass(frozen=True)
class Viewer:
    """Who is looking: a signed-in user (with whether they are staff) or nobody (anonymous)."""

    user_id: str | None = None
    is_staff: bool = False


def are_friends(viewer_id: str, owner_id: str) -> bool:
    """Friendship is Social's; until Social's gRPC answers it, nobody is anyone's friend."""
    return False


def can_see(viewer: Viewer, owner: Account, privacy: Privacy) -> bool:
    """Whether `viewer` sees `owner`'s full profile (and, per the flags, its activity).

    The owner and staff (support, moderator, admin) always do; others when the profile is public,
    or when it is `friends` and they are friends (Social's gRPC will answer that; for now it never
    is, so `friends` is treated as private).
    """
    if viewer.user_id is not None and viewer.user_id == owner.id:
        return True
    if viewer.is_staff:
        return True
    if privacy.visibility == PUBLIC:
        return True
    if privacy.visibility == FRIENDS and viewer.user_id is not None:
        return are_friends(viewer.user_id, owner.id)
    return False


def validate_changes(given: Mapping[str, Any]) -> dict[str, Any]:
    """Check the fields the owner sent (snake_case name -> raw value); only those are returned.
    Raises `InvalidProfile` with one problem per offending field."""
    cleaned: dict[str, Any] = {}
    problems: list[FieldProblem] = []
    for name, value in given.items():
        if name == "visibility":
            if value in VISIBILITIES:
                cleaned[name] = value
            else:
                problems.append(FieldProblem(name, VISIBILITY_INVALID, {"values": ", ".join(VISIBILITIES)}))
        elif name in FLAGS:
            if isinstance(value, bool):
                cleaned[name] = value
            else:
                problems.append(FieldProblem(name, PRIVACY_FLAG_INVALID))
        else:
            raise KeyError(f"{name} is not a privacy field")
    if problems:
        raise InvalidProfile(problems)
    return cleaned


def actual_changes(privacy: Privacy, cleaned: Mapping[str, Any]) -> dict[str, Any]:
    """The validated changes that differ from what `privacy` holds."""
    return {name: value for name, value in cleaned.items() if getattr(privacy, name) != value}


def applied(privacy: Privacy, changes: Mapping[str, Any], now: datetime) -> Privacy:
    return replace(privacy, **changes, updated_at=now)


def settings_of(privacy: Privacy) -> dict[str, Any]:
    """The privacy settings (snake_case name -> value), as the owner reads them."""
    return {name: getattr(privacy, name) for name in EDITABLE_FIELDS}


def minimal_card(account: Account) -> dict[str, Any]:
    """What someone who may not see the profile is shown."""
    return {name: getattr(account, name) for name in MINIMAL_CARD_FIELDS}


def profile_for(viewer: Viewer, account: Account, privacy: Privacy) -> dict[str, Any]:
    """What `viewer` reads at `/users/{id}` (snake_case name -> value): the public profile when
    they may see it, else the minimal card; both name the visibility, so a client can say why."""
    shown = public_profile(account) if can_see(viewer, account, privacy) else minimal_card(account)
    return {**shown, "visibility": privacy.visibility}
