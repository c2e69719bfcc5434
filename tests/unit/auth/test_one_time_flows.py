"""E-mail verification and password reset over the in-memory store (time from a test clock)."""

from __future__ import annotations

import pytest

from parovoz.chassis.errors import ApiError
from parovoz.services.auth.domain.flows import AuthFlows
from parovoz.services.auth.domain.one_time import RESET_PASSWORD, VERIFY_EMAIL, new_one_time_token
from parovoz.services.auth.domain.passwords import HashParams, Passwords
from tests.unit.auth.fakes import Clock, FakeIssuer, FakeStore

FAST = HashParams(memory_kib=8 * 1024, time_cost=1, parallelism=1)
PASSWORD = "s3cret-enough"
NEW = "another-s3cret"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def flows(store: FakeStore, clock: Clock) -> AuthFlows:
    return AuthFlows(store, Passwords(FAST), FakeIssuer(), access_ttl=900, refresh_ttl=3600, clock=clock)


async def _code(coro: object) -> str:
    with pytest.raises(ApiError) as caught:
        await coro  # type: ignore[misc]
    return caught.value.code


def test_tokens_are_random_and_expire_by_purpose(clock: Clock) -> None:
    a = new_one_time_token("u", VERIFY_EMAIL, now=clock.now)
    b = new_one_time_token("u", RESET_PASSWORD, now=clock.now)
    assert a.token != b.token and a.token_hash != b.token_hash and len(a.token) == 43
    assert (a.expires_at - clock.now).total_seconds() == 24 * 3600
    assert (b.expires_at - clock.now).total_seconds() == 3600
    with pytest.raises(ValueError):
        new_one_time_token("u", "other", now=clock.now)


async def test_registration_mails_a_verification_token(flows: AuthFlows, store: FakeStore) -> None:
    user = await flows.register("ann@example.com", "ann", PASSWORD)
    [mailed] = store.mailed
    assert (mailed.user_id, mailed.purpose) == (user.id, VERIFY_EMAIL)
    await flows.verify_email(mailed.token)
    assert store.users[user.id].email_verified
    assert await _code(flows.verify_email(mailed.token)) == "INVALID_ONE_TIME_TOKEN"


async def test_verification_expires(flows: AuthFlows, store: FakeStore, clock: Clock) -> None:
    user = await flows.register("ann@example.com", "ann", PASSWORD)
    clock.advance(hours=24)
    assert await _code(flows.verify_email(store.mailed[0].token)) == "INVALID_ONE_TIME_TOKEN"
    assert not store.users[user.id].email_verified


async def test_forgot_for_an_unknown_address_writes_nothing(flows: AuthFlows, store: FakeStore) -> None:
    await flows.forgot_password("nobody@example.com")
    await flows.forgot_password("not an address")
    assert store.mailed == [] and store.tokens == {}


async def test_reset_changes_the_password_once(flows: AuthFlows, store: FakeStore, clock: Clock) -> None:
    user = await flows.register("ann@example.com", "ann", PASSWORD)
    await flows.login("ann", PASSWORD, user_agent=None, client_ip=None)
    await flows.forgot_password("Ann@Example.com")
    token = store.mailed[-1]
    assert token.purpose == RESET_PASSWORD
    assert await _code(flows.reset_password(token.token, "ann@example.com")) == "PASSWORD_MATCHES_IDENTITY"
    await flows.reset_password(token.token, NEW)
    assert await flows.passwords.verify(store.users[user.id].password_hash, NEW)
    assert all(session_id in store.revoked for session_id in store.sessions)
    assert await _code(flows.reset_password(token.token, "third-s3cret")) == "INVALID_ONE_TIME_TOKEN"


async def test_reset_expires_after_an_hour(flows: AuthFlows, store: FakeStore, clock: Clock) -> None:
    await flows.register("ann@example.com", "ann", PASSWORD)
    await flows.forgot_password("ann@example.com")
    clock.advance(hours=1)
    assert await _code(flows.reset_password(store.mailed[-1].token, NEW)) == "INVALID_ONE_TIME_TOKEN"
