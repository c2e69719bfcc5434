"""Listing and revoking sessions and changing the password, over the in-memory store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from parovoz.chassis.errors import ApiError
from parovoz.chassis.rest.query import ListQuery
from parovoz.chassis.security.principal import Principal
from parovoz.services.auth.domain.flows import AuthFlows, TokenPair
from parovoz.services.auth.domain.passwords import HashParams, Passwords
from tests.unit.auth.fakes import Clock, FakeIssuer, FakeStore

FAST = HashParams(memory_kib=8 * 1024, time_cost=1, parallelism=1)
PASSWORD = "s3cret-enough"
NEW = "another-s3cret"
PAGE = ListQuery(page=1, per_page=20, order_by=(), where=(), fields=None)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def flows(store: FakeStore, clock: Clock) -> AuthFlows:
    return AuthFlows(store, Passwords(FAST), FakeIssuer(), access_ttl=900, refresh_ttl=3600, clock=clock)


def caller(user_id: str, pair: TokenPair) -> Principal:
    return Principal(
        user_id, frozenset({"user"}), pair.session_id, "jti", datetime.now(UTC) + timedelta(minutes=5)
    )


async def _error(coro: object) -> ApiError:
    with pytest.raises(ApiError) as caught:
        await coro  # type: ignore[misc]
    return caught.value


async def test_sessions_list_the_live_ones_newest_first(flows: AuthFlows, clock: Clock) -> None:
    user = await flows.register("ann@example.com", "ann", PASSWORD)
    old = await flows.login("ann", PASSWORD, user_agent="a", client_ip="198.51.100.1")
    clock.advance(minutes=1)
    new = await flows.login("ann", PASSWORD, user_agent="b", client_ip="198.51.100.2")
    found, total, current = await flows.sessions(caller(user.id, new), PAGE)
    assert ([s.id for s in found], total, current) == ([new.session_id, old.session_id], 2, new.session_id)

    # a session not refreshed within the refresh-token lifetime has no valid token left: not listed
    clock.advance(minutes=59, seconds=30)
    await flows.refresh(new.refresh.token)
    found, total, _ = await flows.sessions(caller(user.id, new), PAGE)
    assert ([s.id for s in found], total) == ([new.session_id], 1)


async def test_revoking_another_users_session_is_not_found(flows: AuthFlows) -> None:
    ann = await flows.register("ann@example.com", "ann", PASSWORD)
    bob = await flows.register("bob@example.com", "bob", PASSWORD)
    ann_pair = await flows.login("ann", PASSWORD, user_agent=None, client_ip=None)
    bob_pair = await flows.login("bob", PASSWORD, user_agent=None, client_ip=None)
    for target in (ann_pair.session_id, "not-a-uuid"):
        error = await _error(flows.revoke_session(caller(bob.id, bob_pair), target))
        assert (error.status, error.code) == (404, "SESSION_NOT_FOUND")
    await flows.refresh(ann_pair.refresh.token)  # still alive
    await flows.revoke_session(caller(ann.id, ann_pair), ann_pair.session_id)  # one's own, current too
    error = await _error(flows.sessions(caller(ann.id, ann_pair), PAGE))
    assert (error.status, error.code) == (401, "INVALID_TOKEN")


async def test_password_change_keeps_only_the_current_session(flows: AuthFlows, store: FakeStore) -> None:
    user = await flows.register("ann@example.com", "ann", PASSWORD)
    other = await flows.login("ann", PASSWORD, user_agent=None, client_ip=None)
    mine = await flows.login("ann", PASSWORD, user_agent=None, client_ip=None)

    wrong = await _error(flows.change_password(caller(user.id, mine), "nope-nope-nope", NEW))
    assert (wrong.status, wrong.code) == (401, "INVALID_CURRENT_PASSWORD")
    same = await _error(flows.change_password(caller(user.id, mine), PASSWORD, "ANN@example.com"))
    assert (same.status, same.code) == (422, "PASSWORD_MATCHES_IDENTITY")
    assert not store.revoked

    await flows.change_password(caller(user.id, mine), PASSWORD, NEW)
    assert set(store.revoked) == {other.session_id}
    assert store.revoked[other.session_id][1] == "password_changed"
    assert await flows.passwords.verify(store.users[user.id].password_hash, NEW)
    assert (await _error(flows.login("ann", PASSWORD, user_agent=None, client_ip=None))).code == (
        "INVALID_CREDENTIALS"
    )
