"""152-FZ data exports: their life cycle and the archive a user downloads.

pending → running → completed (downloadable until `expires_at`, then deleted) or, after
`MAX_ATTEMPTS` failed runs, failed. One export in flight per user and `DAILY_LIMIT` a day.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

PENDING = "pending"
RUNNING = "running"
COMPLETED = "completed"
FAILED = "failed"
IN_FLIGHT: tuple[str, ...] = (PENDING, RUNNING)

KEEP_FOR = timedelta(days=7)
DAILY_LIMIT = 3
DAILY_WINDOW = timedelta(days=1)
MAX_ATTEMPTS = 3
# A run holds its export this long; past it, the run is taken for crashed and the export is
# claimed again.
LEASE = timedelta(minutes=5)

README = """Parovoz: your personal data / ваши персональные данные

account.json — your profile, privacy and notification settings, consents (152-FZ) and the
               history of your account's status, as the Account service holds them.
auth.json    — your sign-in data as the Auth service holds it: e-mail, username, roles, status,
               sessions (IP address, browser, when). Passwords are stored only as hashes and
               are never exported; neither are tokens.

account.json — профиль, настройки приватности и уведомлений, согласия (152-ФЗ) и история
               статуса аккаунта, как их хранит сервис Account.
auth.json    — данные для входа, как их хранит сервис Auth: e-mail, имя пользователя, роли,
               статус, сеансы (IP-адрес, браузер, время). Пароли хранятся только в виде хешей
               и не выгружаются; токены тоже.

This archive is available for 7 days after it was made. / Архив доступен 7 дней.
"""


@dataclass(frozen=True)
class DataExport:
    id: str
    user_id: str
    status: str
    created_at: datetime
    completed_at: datetime | None
    expires_at: datetime | None
    attempts: int = 0

    def downloadable(self, now: datetime) -> bool:
        return self.status == COMPLETED and self.expires_at is not None and now < self.expires_at


def retry_delay(attempts: int) -> timedelta:
    """How long a failed run waits before the next one: 10 s, 40 s, 90 s, ..."""
    return timedelta(seconds=10 * attempts * attempts)


def status_after_failure(attempts: int) -> str:
    """A failed run leaves the export pending for another try, or failed after the last one."""
    return FAILED if attempts >= MAX_ATTEMPTS else PENDING


def retry_after_limit(created_in_window: list[datetime], now: datetime) -> int | None:
    """Seconds until another export may be asked for, or None when the daily limit allows it now.
    `created_in_window`: when the user's exports of the last `DAILY_WINDOW` were asked for."""
    if len(created_in_window) < DAILY_LIMIT:
        return None
    oldest_counted = sorted(created_in_window)[-DAILY_LIMIT]
    return max(1, int((oldest_counted + DAILY_WINDOW - now).total_seconds()) + 1)


def _json(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC)


def build_archive(account: dict[str, Any], auth: dict[str, Any]) -> bytes:
    """The zip the user downloads: account.json, auth.json and README.txt."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("account.json", _json(account))
        archive.writestr("auth.json", _json(auth))
        archive.writestr("README.txt", README)
    return buffer.getvalue()
