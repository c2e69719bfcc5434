"""The use cases over an in-memory store: sign-up, sign-in, rotation, reuse, sign-out."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from parovoz.chassis.errors import ApiError
from parovoz.services.auth.domain.flows import AuthFlows
from parovoz.services.auth.domain.passwords import HashParams, Passwords
from parovoz.services.auth.domain.sessions import (
    RefreshRecord,
    RefreshVerdict,
    judge_refresh,
    refresh_token_hash,
)
from parovoz.services.auth.domain.users import BLOCKED
from tests.unit.auth.fakes import Clock, FakeIssuer, FakeStore

FAST = HashParams(memory_kib=8 * 1024, time_cost=1, parallelism=1)
PASSWORD = "s3cret-enough"


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def flows(store: FakeStore, clock: Clock) -> AuthFlows:
    return AuthFlows(store, Passwords(FAST), FakeIssuer(), access_ttl=900, refresh_ttl=3600, clock=clock)


async def _error(coro: object) -> ApiError:
    with pytest.raises(ApiError) as caught:
        await coro  # type: ignore[misc]
    return caught.value


async def test_register_normalises_hashes_and_records_the_event(flows: AuthFlows, store: FakeStore) -> None:
    user = await flows.register(" Ann@Example.COM ", "Ann_1", PASSWORD, language="en")
    assert (user.email, user.username, user.roles, user.email_verified) == (
        "ann@example.com",
        "Ann_1",
        ("user",),
        False,
    )
    assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
    assert store.events == [user] and store.users[user.id] == user


async def test_register_refuses_duplicates_and_writes_nothing(flows: AuthFlows, store: FakeStore) -> None:
    await flows.register("ann@example.com", "ann", PASSWORD)
    assert (await _error(flows.register("ANN@example.com", "other", PASSWORD))).code == "EMAIL_TAKEN"
    assert (await _error(flows.register("new@example.com", "ANN", PASSWORD))).code == "USERNAME_TAKEN"
    assert len(store.users) == 1 and len(store.events) == 1


async def test_register_enforces_rules_itself(flows: AuthFlows) -> None:
    error = await _error(flows.register("ann@example.com", "ann", "short"))
    assert (error.status, error.code, error.items[0].pointer) == (
        422,
        "INVALID_PASSWORD",
        "/data/attributes/password",
    )


async def test_register_refuses_common_and_identity_passwords(flows: AuthFlows, store: FakeStore) -> None:
    common = await _error(flows.register("ann@example.com", "ann_1", "Password1"))
    same_as_name = await _error(flows.register("ann@example.com", "Ann_Smith", " ann_smith "))
    same_as_local = await _error(flows.register("Ann.Smith@Example.com", "ann_1", "ann.smith"))
    assert (common.status, common.code, common.items[0].pointer) == (
        422,
        "PASSWORD_TOO_COMMON",
        "/data/attributes/password",
    )
    assert (same_as_name.status, same_as_name.code) == (422, "PASSWORD_MATCHES_IDENTITY")
    assert same_as_local.code == "PASSWORD_MATCHES_IDENTITY"
    assert store.users == {} and store.events == []


async def test_login_by_email_or_username_any_case(flows: AuthFlows, store: FakeStore) -> None:
    user = await flows.register("ann@example.com", "Ann", PASSWORD)
    sessions = set()
    for login in ("ann@example.com", " ANN@Example.com", "ann", "ANN"):
        pair = await flows.login(login, PASSWORD, user_agent="ua", client_ip="203.0.113.1")
        assert pair.access.token.startswith("access-")
        assert pair.expires_in == 900 and pair.refresh_expires_in == 3600
        assert store.sessions[pair.session_id].user_id == user.id
        sessions.add(pair.session_id)
    assert len(sessions) == 4  # every sign-in is its own session
    idn = await flows.register("bob@пример.рф", "bob", PASSWORD)
    pair = await flows.login("BOB@ПРИМЕР.РФ", PASSWORD, user_agent=None, client_ip=None)
    assert store.sessions[pair.session_id].user_id == idn.id


async def test_wrong_password_and_unknown_user_fail_the_same_way(flows: AuthFlows) -> None:
    await flows.register("ann@example.com", "ann", PASSWORD)
    wrong = await _error(flows.login("ann", "wrong-password", user_agent=None, client_ip=None))
    unknown = await _error(flows.login("nobody", "wrong-password", user_agent=None, client_ip=None))
    assert (wrong.status, wrong.code) == (unknown.status, unknown.code) == (401, "INVALID_CREDENTIALS")


async def test_blocked_user_is_refused_only_with_the_right_password(
    flows: AuthFlows, store: FakeStore
) -> None:
    user = await flows.register("ann@example.com", "ann", PASSWORD)
    store.users[user.id] = dataclasses.replace(user, status=BLOCKED)
    assert (await _error(flows.login("ann", "wrong-pass", user_agent=None, client_ip=None))).status == 401
    blocked = await _error(flows.login("ann", PASSWORD, user_agent=None, client_ip=None))
    assert (blocked.status, blocked.code) == (403, "ACCOUNT_BLOCKED")


async def test_login_rehashes_when_parameters_rose(store: FakeStore, clock: Clock) -> None:
    weak = AuthFlows(store, Passwords(FAST), FakeIssuer(), access_ttl=900, refresh_ttl=3600, clock=clock)
    user = await weak.register("ann@example.com", "ann", PASSWORD)
    strong = HashParams(memory_kib=12 * 1024, time_cost=2, parallelism=1)
    flows = AuthFlows(store, Passwords(strong), FakeIssuer(), access_ttl=900, refresh_ttl=3600, clock=clock)
    await flows.login("ann", PASSWORD, user_agent=None, client_ip=None)
    rehashed = store.users[user.id].password_hash
    assert rehashed != user.password_hash and "m=12288,t=2" in rehashed
    await flows.login("ann", PASSWORD, user_agent=None, client_ip=None)  # the new hash verifies
    assert store.users[user.id].password_hash == rehashed


async def test_refresh_rotates_within_the_session(flows: AuthFlows, store: FakeStore) -> None:
    await flows.register("ann@example.com", "ann", PASSWORD)
    first = await flows.login("ann", PASSWORD, user_agent=None, client_ip=None)
    second = await flows.refresh(first.refresh.token)
    assert second.session_id == first.session_id
    assert second.refresh.token != first.refresh.token
    assert store.refresh[refresh_token_hash(first.refresh.token)].used_at is not None
    third = await flows.refresh(second.refresh.token)
    assert third.session_id == first.session_id


async def test_reuse_revokes_the_whole_session(flows: AuthFlows, store: FakeStore) -> None:
    await flows.register("ann@example.com", "ann", PASSWORD)
    first = await flows.login("ann", PASSWORD, user_agent=None, client_ip=None)
    second = await flows.refresh(first.refresh.token)
    reused = await _error(flows.refresh(first.refresh.token))
    assert (reused.status, reused.code) == (401, "REFRESH_TOKEN_REUSED")
    assert store.revoked[first.session_id][1] == "refresh_token_reused"
    # the legitimate holder's newer token died with the session
    dead = await _error(flows.refresh(second.refresh.token))
    assert dead.code == "INVALID_REFRESH_TOKEN"
    user_id = next(iter(store.users))
    assert not await store.session_is_live(first.session_id, user_id)


async def test_unknown_and_expired_refresh_tokens_are_invalid(flows: AuthFlows, clock: Clock) -> None:
    await flows.register("ann@example.com", "ann", PASSWORD)
    pair = await flows.login("ann", PASSWORD, user_agent=None, client_ip=None)
    assert (await _error(flows.refresh("no-such-token"))).code == "INVALID_REFRESH_TOKEN"
    clock.advance(seconds=3601)
    assert (await _error(flows.refresh(pair.refresh.token))).code == "INVALID_REFRESH_TOKEN"


async def test_logout_revokes_and_is_idempotent(flows: AuthFlows, store: FakeStore) -> None:
    await flows.register("ann@example.com", "ann", PASSWORD)
    pair = await flows.login("ann", PASSWORD, user_agent=None, client_ip=None)
    await flows.logout(pair.refresh.token)
    await flows.logout(pair.refresh.token)
    assert store.revoked[pair.session_id][1] == "logout"
    assert (await _error(flows.refresh(pair.refresh.token))).code == "INVALID_REFRESH_TOKEN"
    assert (await _error(flows.logout("no-such-token"))).code == "INVALID_REFRESH_TOKEN"


def test_judge_refresh_table(clock: Clock) -> None:
    now = clock()
    base = RefreshRecord("r", "s", "u", now + timedelta(hours=1), None, None)
    assert judge_refresh(None, now) is RefreshVerdict.INVALID
    assert judge_refresh(base, now) is RefreshVerdict.ROTATE
    used = RefreshRecord("r", "s", "u", now + timedelta(hours=1), now, None)
    assert judge_refresh(used, now) is RefreshVerdict.REUSED
    expired = RefreshRecord("r", "s", "u", now, None, None)
    assert judge_refresh(expired, now) is RefreshVerdict.INVALID
    revoked = RefreshRecord("r", "s", "u", now + timedelta(hours=1), now, now)
    assert judge_refresh(revoked, now) is RefreshVerdict.INVALID
