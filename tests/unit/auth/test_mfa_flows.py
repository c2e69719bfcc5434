"""2FA use cases over in-memory stores: enrolment, the sign-in challenge, replay refusal, recovery
codes, the per-challenge and per-user budgets of wrong codes, disabling, `verify_code_for`."""

from __future__ import annotations

import dataclasses

import pytest

from parovoz.chassis.errors import ApiError
from parovoz.services.auth.domain import totp
from parovoz.services.auth.domain.flows import AuthFlows, TokenPair
from parovoz.services.auth.domain.mfa import MfaChallenge, MfaFlows, MfaLimits
from parovoz.services.auth.domain.mfa_sign_in import finish_sign_in
from parovoz.services.auth.domain.passwords import HashParams, Passwords
from parovoz.services.auth.domain.users import User
from tests.unit.auth.fakes import Clock, FakeIssuer, FakeStore
from tests.unit.auth.mfa_fakes import FakeMfaStore

FAST = HashParams(memory_kib=8 * 1024, time_cost=1, parallelism=1)
PASSWORD = "s3cret-enough"
UA = "Mozilla/5.0 test"
IP = "198.51.100.7"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def mfa_store() -> FakeMfaStore:
    return FakeMfaStore()


@pytest.fixture
def mfa(mfa_store: FakeMfaStore, store: FakeStore, clock: Clock) -> MfaFlows:
    return MfaFlows(mfa_store, store, Passwords(FAST), limits=MfaLimits(), clock=clock)


@pytest.fixture
def flows(store: FakeStore, mfa: MfaFlows, clock: Clock) -> AuthFlows:
    return AuthFlows(
        store, Passwords(FAST), FakeIssuer(), access_ttl=900, refresh_ttl=3600, clock=clock, mfa=mfa
    )


async def _error(coro: object) -> ApiError:
    with pytest.raises(ApiError) as caught:
        await coro  # type: ignore[misc]
    return caught.value


class Authenticator:
    """The user's app: a code of a step not used yet, from the oldest one the window accepts
    (so that a test gets several fresh codes without waiting for the clock)."""

    def __init__(self, secret: str, clock: Clock) -> None:
        self.secret, self.clock, self.last = secret, clock, -1

    def peek(self) -> str:
        """The next fresh code, for a call that will not spend it."""
        step = max(self.last + 1, totp.step_at(self.clock()) - totp.WINDOW)
        return totp.code_at_step(totp.secret_bytes(self.secret), step)

    def code(self) -> str:
        self.last = max(self.last + 1, totp.step_at(self.clock()) - totp.WINDOW)
        return totp.code_at_step(totp.secret_bytes(self.secret), self.last)


async def _enrolled(flows: AuthFlows, mfa: MfaFlows, clock: Clock) -> tuple[User, Authenticator, list[str]]:
    user = await flows.register("ann@example.com", "ann", PASSWORD)
    enrolment = await mfa.start_enrolment(user.id)
    app = Authenticator(enrolment.secret, clock)
    codes = await mfa.confirm_enrolment(user.id, app.code())
    return user, app, codes


async def _challenge(flows: AuthFlows) -> MfaChallenge:
    result = await flows.login("ann", PASSWORD, user_agent=UA, client_ip=IP)
    assert isinstance(result, MfaChallenge)
    return result


async def test_enrolment_turns_the_login_into_a_challenge(
    flows: AuthFlows, mfa: MfaFlows, mfa_store: FakeMfaStore, clock: Clock
) -> None:
    user = await flows.register("ann@example.com", "ann", PASSWORD)
    assert isinstance(await flows.login("ann", PASSWORD, user_agent=UA, client_ip=IP), TokenPair)
    first = await mfa.start_enrolment(user.id)
    second = await mfa.start_enrolment(user.id)  # starting again replaces the pending secret
    assert first.secret != second.secret
    assert second.otpauth_uri.startswith("otpauth://totp/Parovoz:ann?secret=" + second.secret)
    assert not await mfa.is_enabled(user.id)
    wrong = await _error(mfa.confirm_enrolment(user.id, totp.code_for(first.secret, clock())))
    assert (wrong.status, wrong.code) == (401, "INVALID_MFA_CODE")
    assert not await mfa.is_enabled(user.id) and mfa_store.state.events == []

    codes = await mfa.confirm_enrolment(user.id, totp.code_for(second.secret, clock()))
    assert len(codes) == 10 and mfa_store.recovery_left(user.id) == 10
    assert await mfa.is_enabled(user.id)
    assert mfa_store.state.events == [(user.id, True)]
    again = await _error(mfa.start_enrolment(user.id))
    assert (again.status, again.code) == (409, "MFA_ALREADY_ENABLED")

    challenge = await _challenge(flows)
    assert challenge.user_id == user.id and challenge.expires_in == 300
    assert challenge.methods == ("totp", "recovery_code") and len(challenge.token) >= 43


async def test_confirm_without_a_pending_enrolment_is_a_conflict(flows: AuthFlows, mfa: MfaFlows) -> None:
    user = await flows.register("ann@example.com", "ann", PASSWORD)
    error = await _error(mfa.confirm_enrolment(user.id, "123456"))
    assert (error.status, error.code) == (409, "MFA_ENROLMENT_NOT_STARTED")


async def test_second_step_gives_tokens_once_and_refuses_a_replayed_code(
    flows: AuthFlows, mfa: MfaFlows, clock: Clock
) -> None:
    _, app, _ = await _enrolled(flows, mfa, clock)
    challenge = await _challenge(flows)
    code = app.code()
    pair = await finish_sign_in(flows, challenge.token, code, user_agent=UA, client_ip=IP)
    assert isinstance(pair, TokenPair)
    spent = await _error(finish_sign_in(flows, challenge.token, app.peek(), user_agent=UA, client_ip=IP))
    assert (spent.status, spent.code) == (401, "INVALID_MFA_TOKEN")

    replay = await _challenge(flows)
    error = await _error(finish_sign_in(flows, replay.token, code, user_agent=UA, client_ip=IP))
    assert (error.status, error.code) == (401, "INVALID_MFA_CODE")
    # the challenge survives a wrong code (four more tries)
    assert await finish_sign_in(flows, replay.token, app.code(), user_agent=UA, client_ip=IP)


async def test_the_challenge_is_bound_to_the_device_and_expires(
    flows: AuthFlows, mfa: MfaFlows, clock: Clock
) -> None:
    _, app, _ = await _enrolled(flows, mfa, clock)
    challenge = await _challenge(flows)
    for ua, ip in ((UA, "203.0.113.9"), ("other agent", IP), (None, IP)):
        error = await _error(finish_sign_in(flows, challenge.token, app.peek(), user_agent=ua, client_ip=ip))
        assert (error.status, error.code) == (401, "INVALID_MFA_TOKEN")
    clock.advance(minutes=5)
    error = await _error(finish_sign_in(flows, challenge.token, app.peek(), user_agent=UA, client_ip=IP))
    assert error.code == "INVALID_MFA_TOKEN"
    unknown = await _error(finish_sign_in(flows, "nope", "123456", user_agent=UA, client_ip=IP))
    assert unknown.code == "INVALID_MFA_TOKEN"


async def test_five_wrong_codes_kill_the_challenge(flows: AuthFlows, mfa: MfaFlows, clock: Clock) -> None:
    _, app, _ = await _enrolled(flows, mfa, clock)
    challenge = await _challenge(flows)
    for _ in range(5):
        error = await _error(finish_sign_in(flows, challenge.token, "000000", user_agent=UA, client_ip=IP))
        assert error.code == "INVALID_MFA_CODE"
    dead = await _error(finish_sign_in(flows, challenge.token, app.peek(), user_agent=UA, client_ip=IP))
    assert dead.code == "INVALID_MFA_TOKEN"


async def test_wrong_codes_are_counted_per_user_across_challenges(
    flows: AuthFlows, mfa: MfaFlows, clock: Clock
) -> None:
    _, app, _ = await _enrolled(flows, mfa, clock)
    for _ in range(2):
        challenge = await _challenge(flows)
        for _ in range(5):
            await _error(finish_sign_in(flows, challenge.token, "000000", user_agent=UA, client_ip=IP))
    clock.advance(minutes=1)
    challenge = await _challenge(flows)
    # past the budget even the right code is refused, before it is looked at
    limited = await _error(finish_sign_in(flows, challenge.token, app.peek(), user_agent=UA, client_ip=IP))
    assert (limited.status, limited.code) == (429, "RATE_LIMITED")
    assert limited.headers["Retry-After"] == str(14 * 60)
    clock.advance(minutes=14)
    challenge = await _challenge(flows)  # the first one expired meanwhile
    assert await finish_sign_in(flows, challenge.token, app.code(), user_agent=UA, client_ip=IP)


async def test_recovery_codes_work_once_in_any_case(flows: AuthFlows, mfa: MfaFlows, clock: Clock) -> None:
    user, _, codes = await _enrolled(flows, mfa, clock)
    challenge = await _challenge(flows)
    typed = codes[3].upper().replace("-", " ")
    assert await finish_sign_in(flows, challenge.token, typed, user_agent=UA, client_ip=IP)
    again = await _challenge(flows)
    error = await _error(finish_sign_in(flows, again.token, codes[3], user_agent=UA, client_ip=IP))
    assert error.code == "INVALID_MFA_CODE"
    await mfa.verify_code_for(user.id, codes[4])


async def test_verify_code_for(flows: AuthFlows, mfa: MfaFlows, clock: Clock) -> None:
    bob = await flows.register("bob@example.com", "bob", PASSWORD)
    await mfa.verify_code_for(bob.id, None)  # 2FA off: nothing to check
    await mfa.verify_code_for("not-a-uuid", "123456")
    ann, app, _ = await _enrolled(flows, mfa, clock)
    for code, expected in (
        (None, "MFA_CODE_REQUIRED"),
        ("", "MFA_CODE_REQUIRED"),
        ("12345x", "INVALID_MFA_CODE"),
    ):
        error = await _error(mfa.verify_code_for(ann.id, code))
        assert (error.status, error.code) == (401, expected)
    code = app.code()
    await mfa.verify_code_for(ann.id, code)
    replay = await _error(mfa.verify_code_for(ann.id, code))
    assert replay.code == "INVALID_MFA_CODE"


async def test_disable_needs_the_password_and_a_code(
    flows: AuthFlows, mfa: MfaFlows, mfa_store: FakeMfaStore, clock: Clock
) -> None:
    user, app, _ = await _enrolled(flows, mfa, clock)
    for password, code, expected in (
        ("wrong-password", app.peek(), "INVALID_CURRENT_PASSWORD"),
        (None, app.peek(), "INVALID_CURRENT_PASSWORD"),
        (PASSWORD, None, "MFA_CODE_REQUIRED"),
        (PASSWORD, "000000", "INVALID_MFA_CODE"),
    ):
        error = await _error(mfa.disable(user.id, password, code))
        assert (error.status, error.code) == (401, expected)
        assert await mfa.is_enabled(user.id) and mfa_store.recovery_left(user.id) == 10
    await mfa.disable(user.id, PASSWORD, app.code())
    assert not await mfa.is_enabled(user.id) and mfa_store.recovery_left(user.id) == 0
    assert mfa_store.state.events == [(user.id, True), (user.id, False)]
    assert isinstance(await flows.login("ann", PASSWORD, user_agent=UA, client_ip=IP), TokenPair)
    off = await _error(mfa.disable(user.id, PASSWORD, app.peek()))
    assert (off.status, off.code) == (409, "MFA_NOT_ENABLED")


async def test_a_passwordless_account_disables_with_the_code_alone(
    flows: AuthFlows, mfa: MfaFlows, store: FakeStore, clock: Clock
) -> None:
    user, app, _ = await _enrolled(flows, mfa, clock)
    store.users[user.id] = dataclasses.replace(user, password_hash=None)  # type: ignore[arg-type]
    await mfa.disable(user.id, None, app.code())
    assert not await mfa.is_enabled(user.id)


async def test_a_blocked_user_gets_no_challenge(
    flows: AuthFlows, mfa: MfaFlows, store: FakeStore, clock: Clock
) -> None:
    user, _, _ = await _enrolled(flows, mfa, clock)
    store.users[user.id] = dataclasses.replace(user, status="blocked")
    error = await _error(flows.start_session(store.users[user.id], user_agent=UA, client_ip=IP, method="vk"))
    assert (error.status, error.code) == (403, "ACCOUNT_BLOCKED")
