"""Settings: whole-number settings refuse what is not a positive integer, naming the variable."""

from __future__ import annotations

import pytest

from parovoz.chassis.config import Settings


def test_positive_int_takes_the_default_when_unset_or_empty() -> None:
    settings = Settings.from_env({"PAROVOZ_AUTH_X": ""})
    assert settings.positive_int("AUTH_X", 7) == 7
    assert settings.positive_int("AUTH_Y", 9) == 9


def test_positive_int_reads_a_positive_whole_number() -> None:
    assert Settings.from_env({"PAROVOZ_AUTH_X": "42"}).positive_int("AUTH_X", 7) == 42


@pytest.mark.parametrize("raw", ["0", "-3", "ten", "1.5"])
def test_positive_int_refuses_anything_else_naming_the_variable(raw: str) -> None:
    with pytest.raises(ValueError, match="PAROVOZ_AUTH_X must be a positive integer"):
        Settings.from_env({"PAROVOZ_AUTH_X": raw}).positive_int("AUTH_X", 7)
