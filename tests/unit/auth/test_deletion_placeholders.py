"""A deleted user's placeholders: unique, and no sign-up or sign-in can ever produce them."""

from __future__ import annotations

import uuid

import pytest

from parovoz.services.auth.deletion import placeholder_email, placeholder_username
from parovoz.services.auth.domain import rules


def test_placeholders_are_unique_per_user_and_lower_case() -> None:
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    assert placeholder_email(first) != placeholder_email(second)
    assert placeholder_username(first) != placeholder_username(second)
    assert placeholder_email(first) == placeholder_email(first.upper()) == placeholder_email(first).lower()


def test_nobody_can_sign_up_with_a_placeholder_username() -> None:
    with pytest.raises(rules.RuleViolation):
        rules.check_username(placeholder_username(str(uuid.uuid4())))


def test_placeholder_addresses_are_in_a_reserved_domain() -> None:
    # RFC 2606: `.invalid` never resolves, so no mail (e.g. a reset link) can reach it
    assert placeholder_email(str(uuid.uuid4())).endswith("@deleted.invalid")
