"""Account deletion (152-FZ erasure): what an anonymised account holds.

The account row stays (other services' records point at its id) but nothing in it identifies a
person any more: names, bio, avatar, country and birth date are cleared, e-mail and username become
placeholders unique to the id, and the status is `deleted` for good.
"""

from __future__ import annotations

import uuid
from typing import Any

from parovoz.services.account.domain.profile import STATUS_DELETED, Account

__all__ = ["STATUS_DELETED", "anonymised_identity", "anonymised_profile", "is_deleted"]

DELETED_DISPLAY_NAME = "deleted"
DELETION_REASON = "deleted by the user"


def anonymised_identity(user_id: str) -> dict[str, str]:
    """`accounts` columns after deletion: placeholders in the `.invalid` domain (RFC 2606)."""
    tag = uuid.UUID(user_id).hex
    return {"username": f"deleted-{tag}", "email": f"deleted-{tag}@deleted.invalid"}


def anonymised_profile() -> dict[str, Any]:
    """`profiles` columns after deletion (the language stays: it is no personal data and the
    column requires one)."""
    return {
        "display_name": DELETED_DISPLAY_NAME,
        "avatar_url": None,
        "bio": None,
        "country": None,
        "birth_date": None,
    }


def is_deleted(account: Account) -> bool:
    return account.status == STATUS_DELETED
