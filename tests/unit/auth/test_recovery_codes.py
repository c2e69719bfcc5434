"""Recovery codes: format, entropy, and comparison regardless of case, dashes and spaces."""

from __future__ import annotations

import re

from parovoz.services.auth.domain.recovery_codes import (
    is_recovery_shaped,
    new_recovery_codes,
    normalize,
    recovery_code_hash,
)


def test_ten_distinct_codes_of_ten_base32_characters() -> None:
    codes = new_recovery_codes()
    assert len(codes) == len(set(codes)) == 10
    assert all(re.fullmatch(r"[a-z2-7]{5}-[a-z2-7]{5}", c) for c in codes)
    assert set(codes).isdisjoint(new_recovery_codes())


def test_typed_back_in_any_case_with_or_without_the_dash() -> None:
    code = "abcde-fg234"
    for typed in ("ABCDE-FG234", "abcdefg234", " abcde fg234 ", "AbCdE-fG234"):
        assert normalize(typed) == "abcdefg234"
        assert recovery_code_hash(typed) == recovery_code_hash(code)
        assert is_recovery_shaped(typed)
    assert recovery_code_hash("abcde-fg235") != recovery_code_hash(code)


def test_totp_codes_and_junk_are_not_recovery_shaped() -> None:
    for typed in ("123456", "abcde-fg23", "abcde-fg2345", "abcde-fg018", "абвгд-еёжзи"):
        assert not is_recovery_shaped(typed)
