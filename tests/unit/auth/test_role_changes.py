"""Role changes: validation, "user" always kept, no-op when nothing changes, sessions ended."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import pytest

from parovoz.chassis.errors import ApiError
from parovoz.services.auth.domain.role_changes import (
    ROLES_CHANGED_REASON,
    checked_roles,
    set_user_roles,
)

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def test_checked_roles_keeps_user_first_and_drops_duplicates() -> None:
    assert checked_roles([]) == ("user",)
    assert checked_roles(["Admin ", "moderator", "admin", "user"]) == ("user", "admin", "moderator")


def test_an_unknown_role_is_refused() -> None:
    with pytest.raises(ApiError) as caught:
        checked_roles(["admin", "superuser"])
    assert caught.value.status == 422 and caught.value.code == "INVALID_ROLE"
    assert caught.value.items[0].params["role"] == "superuser"


class _Tx:
    def __init__(self, roles: dict[str, tuple[str, ...]]) -> None:
        self.roles = roles
        self.revoked: list[tuple[str, str]] = []
        self.events: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = []

    async def lock_user_roles(self, user_id: str) -> tuple[str, ...] | None:
        return self.roles.get(user_id)

    async def set_user_roles(self, user_id: str, roles: tuple[str, ...], now: datetime) -> None:
        self.roles[user_id] = roles

    async def revoke_all_sessions(self, user_id: str, now: datetime, reason: str) -> int:
        self.revoked.append((user_id, reason))
        return 2

    async def record_roles_changed(
        self, user_id: str, roles: tuple[str, ...], previous: tuple[str, ...], now: datetime
    ) -> None:
        self.events.append((user_id, roles, previous))


def _transaction(tx: _Tx):  # type: ignore[no-untyped-def]
    @asynccontextmanager
    async def transaction() -> AsyncIterator[_Tx]:
        yield tx

    return transaction


async def test_a_change_stores_the_roles_ends_the_sessions_and_emits() -> None:
    tx = _Tx({"u1": ("user",)})
    change = await set_user_roles(_transaction(tx), "u1", ["moderator"], now=NOW)
    assert (change.roles, change.previous_roles, change.changed, change.sessions_ended) == (
        ("user", "moderator"),
        ("user",),
        True,
        2,
    )
    assert tx.roles["u1"] == ("user", "moderator")
    assert tx.revoked == [("u1", ROLES_CHANGED_REASON)]
    assert tx.events == [("u1", ("user", "moderator"), ("user",))]


async def test_the_same_roles_change_nothing() -> None:
    tx = _Tx({"u1": ("user", "admin")})
    change = await set_user_roles(_transaction(tx), "u1", ["admin", "user"], now=NOW)
    assert not change.changed and change.sessions_ended == 0
    assert tx.revoked == [] and tx.events == []


async def test_unknown_user_and_unknown_role_write_nothing() -> None:
    tx = _Tx({"u1": ("user",)})
    with pytest.raises(ApiError) as caught:
        await set_user_roles(_transaction(tx), "u2", ["admin"], now=NOW)
    assert (caught.value.status, caught.value.code) == (404, "USER_NOT_FOUND")
    with pytest.raises(ApiError) as caught:
        await set_user_roles(_transaction(tx), "u1", ["root"], now=NOW)
    assert caught.value.code == "INVALID_ROLE"
    assert tx.roles == {"u1": ("user",)} and tx.revoked == [] and tx.events == []
