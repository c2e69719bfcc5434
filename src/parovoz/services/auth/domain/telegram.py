"""Telegram Login Widget: checking the data it hands the browser ("Checking authorization",
core.telegram.org/widgets/login).

data-check-string = every received field but `hash`, sorted by name, `key=value`, joined by "\\n";
secret key = SHA-256(bot token); the data is Telegram's when hex(HMAC-SHA-256(data-check-string,
secret key)) equals `hash` (compared in constant time), and fresh while `auth_date` is recent.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime, timedelta

MAX_AGE = timedelta(days=1)
# clocks disagree a little; more than this into the future is not a real widget's answer
FUTURE_SKEW = timedelta(minutes=5)


class TelegramAuthError(ValueError):
    """`code`: INVALID_TELEGRAM_AUTH (bad hash or fields) or TELEGRAM_AUTH_EXPIRED."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _text(value: object) -> str:
    # JSON numbers arrive as int; Telegram signed their decimal text form
    if isinstance(value, bool) or value is None:
        raise TelegramAuthError("INVALID_TELEGRAM_AUTH")
    if isinstance(value, int | str):
        return str(value)
    raise TelegramAuthError("INVALID_TELEGRAM_AUTH")


def data_check_string(fields: Mapping[str, object]) -> str:
    return "\n".join(f"{key}={_text(fields[key])}" for key in sorted(fields) if key != "hash")


def sign(fields: Mapping[str, object], bot_token: str) -> str:
    """The `hash` Telegram computes for `fields` (what the check compares with)."""
    secret = hashlib.sha256(bot_token.encode("utf-8")).digest()
    return hmac.new(secret, data_check_string(fields).encode("utf-8"), hashlib.sha256).hexdigest()


def payload_digest(fields: Mapping[str, object]) -> bytes:
    """What identifies one payload once spent (the signed fields and their hash)."""
    text = data_check_string(fields) + "\n#" + _text(fields.get("hash", ""))
    return hashlib.sha256(text.encode("utf-8")).digest()


def verify(fields: Mapping[str, object], bot_token: str, *, now: datetime) -> datetime:
    """Check the signature, then the age; the payload's `auth_date` when both hold."""
    given = fields.get("hash")
    if not isinstance(given, str) or not bot_token:
        raise TelegramAuthError("INVALID_TELEGRAM_AUTH")
    expected = sign(fields, bot_token)
    if not hmac.compare_digest(expected, given.lower().encode("ascii", "replace").decode("ascii")):
        raise TelegramAuthError("INVALID_TELEGRAM_AUTH")
    raw_date = fields.get("auth_date")
    try:
        auth_date = datetime.fromtimestamp(int(_text(raw_date)), tz=now.tzinfo)
    except (TelegramAuthError, ValueError, OverflowError, OSError):
        raise TelegramAuthError("INVALID_TELEGRAM_AUTH") from None
    if auth_date < now - MAX_AGE or auth_date > now + FUTURE_SKEW:
        raise TelegramAuthError("TELEGRAM_AUTH_EXPIRED")
    return auth_date
