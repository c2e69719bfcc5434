"""Two-factor authentication: TOTP (RFC 6238) with single-use recovery codes, and the sign-in
challenge a password (or VK/OK/Telegram) sign-in turns into when the user has 2FA on.

Every code is checked inside one transaction that row-locks the user's TOTP credential, so checks
of one user serialise: the per-user failure budget is exact, and a code (a time step or a recovery
code) is spent by a conditional UPDATE: of two simultaneous uses, exactly one gets through.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from parovoz.chassis.errors import ApiError, too_many_requests
from parovoz.services.auth.domain import mfa_errors, totp
from parovoz.services.auth.domain.passwords import Passwords
from parovoz.services.auth.domain.recovery_codes import (
    is_recovery_shaped,
    new_recovery_codes,
    recovery_code_hash,
)
from parovoz.services.auth.domain.users import User

TOTP = "totp"
RECOVERY_CODE = "recovery_code"
METHODS = (TOTP, RECOVERY_CODE)
MFA_TOKEN_BYTES = 32  # 256 bits
# Sessions keep this much of a client-controlled user agent; a challenge compares the same prefix.
USER_AGENT_MAX = 512


@dataclass(frozen=True)
class MfaLimits:
    challenge_ttl_s: int = 5 * 60
    challenge_attempts: int = 5  # wrong codes that kill one challenge
    failures_per_user: int = 10  # wrong codes per user within `failure_window_s`, any route
    failure_window_s: int = 15 * 60


@dataclass(frozen=True)
class TotpCredential:
    user_id: str
    secret: str
    confirmed_at: datetime | None
    last_used_step: int | None
    created_at: datetime

    @property
    def enabled(self) -> bool:
        return self.confirmed_at is not None


@dataclass(frozen=True)
class MfaChallenge:
    """The answer to a sign-in of a user with 2FA on: `token` goes to the client (once), its hash
    to the store; the client finishes with the token and a code."""

    id: str
    token: str
    user_id: str
    expires_at: datetime
    expires_in: int
    methods: tuple[str, ...] = METHODS


@dataclass(frozen=True)
class ChallengeRecord:
    id: str
    user_id: str
    user_agent: str | None
    client_ip: str | None
    method: str
    expires_at: datetime
    failed_attempts: int
    used_at: datetime | None


@dataclass(frozen=True)
class Enrolment:
    secret: str
    otpauth_uri: str


class MfaTx(Protocol):
    async def lock_credential(self, user_id: str) -> TotpCredential | None:
        """The user's credential (pending or confirmed), row-locked until commit."""

    async def put_pending(self, user_id: str, secret: str, now: datetime) -> bool:
        """Store (or replace) the pending secret; False when 2FA is already on (nothing changes)."""

    async def confirm(self, user_id: str, step: int, now: datetime) -> bool:
        """Turn the pending credential on with `step` spent; False when it is no longer pending."""

    async def replace_recovery_codes(self, user_id: str, hashes: list[bytes], now: datetime) -> None: ...

    async def spend_step(self, user_id: str, step: int) -> bool:
        """Record `step` as the last one used, only if it is greater than the stored one."""

    async def spend_recovery_code(self, user_id: str, code_hash: bytes, now: datetime) -> bool:
        """Mark the code used if it is the user's and unused; whether it was."""

    async def failures_since(self, user_id: str, since: datetime) -> list[datetime]:
        """When the user's wrong codes after `since` happened, oldest first."""

    async def record_failure(self, user_id: str, now: datetime, forget_before: datetime) -> None: ...

    async def remove_two_factor(self, user_id: str) -> None:
        """Delete the credential, the recovery codes and the open challenges of the user."""

    async def record_two_factor_changed(self, user_id: str, enabled: bool, now: datetime) -> None:
        """Write the auth.user.two_factor.changed.v1 event in this transaction."""

    async def insert_challenge(
        self, record: ChallengeRecord, token_hash: bytes, created_at: datetime
    ) -> None: ...

    async def challenge_user(self, token_hash: bytes) -> str | None:
        """The user id of a challenge with this token (any state), without locking."""

    async def lock_challenge(self, token_hash: bytes) -> ChallengeRecord | None: ...

    async def fail_challenge(self, challenge_id: str) -> None: ...

    async def spend_challenge(self, challenge_id: str, now: datetime) -> bool:
        """Mark the challenge used if it is not yet; whether it was."""


class MfaStore(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[MfaTx]: ...

    async def credential(self, user_id: str) -> TotpCredential | None: ...


class UserSource(Protocol):
    async def user_by_id(self, user_id: str) -> User | None: ...


def utcnow() -> datetime:
    return datetime.now(UTC)


def mfa_token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return False
    return True


def _device(user_agent: str | None) -> str | None:
    return user_agent[:USER_AGENT_MAX] if user_agent else None


class MfaFlows:
    """The second factor's use cases. Other flows rely on `is_enabled` and `verify_code_for`."""

    def __init__(
        self,
        store: MfaStore,
        users: UserSource,
        passwords: Passwords,
        *,
        limits: MfaLimits | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.users = users
        self.passwords = passwords
        self.limits = limits or MfaLimits()
        self.clock = clock

    async def is_enabled(self, user_id: str) -> bool:
        if not _is_uuid(user_id):
            return False  # no such user, so no 2FA (and no malformed id reaches the database)
        credential = await self.store.credential(user_id)
        return credential is not None and credential.enabled

    async def verify_code_for(self, user_id: str, code: str | None) -> None:
        """When the user has 2FA on, spend `code` (a TOTP code or a recovery code, no replay);
        raises ApiError 401 MFA_CODE_REQUIRED when it is missing, 401 INVALID_MFA_CODE when wrong
        (429 when the user's wrong codes ran out). Nothing happens when 2FA is off."""
        if not _is_uuid(user_id):
            return
        now = self.clock()
        async with self.store.transaction() as tx:
            credential = await tx.lock_credential(user_id)
            if credential is None or not credential.enabled:
                return
            if not code:
                raise mfa_errors.code_required()
            failure = await self._spend_code(tx, credential, code, now)
        # Raised after the commit: a wrong code's failure record must persist.
        if failure is not None:
            raise failure

    async def start_enrolment(self, user_id: str) -> Enrolment:
        user = await self.users.user_by_id(user_id)
        if user is None:
            raise mfa_errors.enrolment_not_started()
        secret = totp.new_secret()
        async with self.store.transaction() as tx:
            if not await tx.put_pending(user_id, secret, self.clock()):
                raise mfa_errors.mfa_already_enabled()
        return Enrolment(secret, totp.otpauth_uri(secret, user.username))

    async def confirm_enrolment(self, user_id: str, code: str) -> list[str]:
        """Turn 2FA on with a code of the pending secret; the new recovery codes (shown once)."""
        now = self.clock()
        codes = new_recovery_codes()
        async with self.store.transaction() as tx:
            credential = await tx.lock_credential(user_id)
            if credential is not None and credential.enabled:
                raise mfa_errors.mfa_already_enabled()
            if credential is None:
                raise mfa_errors.enrolment_not_started()
            step = totp.matching_step(credential.secret, code.strip(), now)
            if step is None:
                raise mfa_errors.invalid_code()
            if not await tx.confirm(user_id, step, now):
                raise mfa_errors.mfa_already_enabled()
            await tx.replace_recovery_codes(user_id, [recovery_code_hash(c) for c in codes], now)
            await tx.record_two_factor_changed(user_id, True, now)
        return codes

    async def disable(self, user_id: str, password: str | None, code: str | None) -> None:
        """Turn 2FA off with the password (when the account has one) and a code."""
        if not await self.is_enabled(user_id):
            raise mfa_errors.mfa_not_enabled()
        user = await self.users.user_by_id(user_id)
        if user is None:
            raise mfa_errors.mfa_not_enabled()
        # Accounts made by VK/OK/Telegram sign-in have no password: the code alone proves it.
        if user.password_hash and not (
            password and await self.passwords.verify(user.password_hash, password)
        ):
            raise mfa_errors.wrong_password()
        now = self.clock()
        async with self.store.transaction() as tx:
            credential = await tx.lock_credential(user_id)
            if credential is None or not credential.enabled:
                raise mfa_errors.mfa_not_enabled()
            if not code:
                raise mfa_errors.code_required()
            failure = await self._spend_code(tx, credential, code, now)
            if failure is None:
                await tx.remove_two_factor(user_id)
                await tx.record_two_factor_changed(user_id, False, now)
        if failure is not None:
            raise failure

    async def open_challenge(
        self, user: User, *, user_agent: str | None, client_ip: str | None, method: str
    ) -> MfaChallenge:
        now = self.clock()
        token = secrets.token_urlsafe(MFA_TOKEN_BYTES)
        ttl = self.limits.challenge_ttl_s
        record = ChallengeRecord(
            id=str(uuid.uuid4()),
            user_id=user.id,
            user_agent=_device(user_agent),
            client_ip=client_ip,
            method=method,
            expires_at=now + timedelta(seconds=ttl),
            failed_attempts=0,
            used_at=None,
        )
        async with self.store.transaction() as tx:
            await tx.insert_challenge(record, mfa_token_hash(token), now)
        return MfaChallenge(record.id, token, user.id, record.expires_at, ttl)

    async def redeem_challenge(
        self, mfa_token: str, code: str, *, user_agent: str | None, client_ip: str | None
    ) -> tuple[str, str]:
        """Spend the challenge with a code: the user id and the first step's sign-in method.
        A wrong code counts against the challenge (dead after `challenge_attempts`) and the user."""
        now = self.clock()
        hashed = mfa_token_hash(mfa_token)
        failure: ApiError | None = mfa_errors.invalid_mfa_token()
        async with self.store.transaction() as tx:
            user_id = await tx.challenge_user(hashed)
            # credential before challenge: the lock order of `disable` too (no deadlock)
            credential = await tx.lock_credential(user_id) if user_id else None
            challenge = await tx.lock_challenge(hashed) if credential is not None else None
            # (a challenge of a user whose 2FA went off meanwhile is void)
            if (
                challenge is not None
                and credential is not None
                and credential.enabled
                and self._usable(challenge, now, user_agent, client_ip)
            ):
                failure = await self._spend_code(tx, credential, code, now)
                if failure is None:
                    # under the row lock, `used_at` was just seen empty: this cannot lose
                    await tx.spend_challenge(challenge.id, now)
                elif failure.code == "INVALID_MFA_CODE":
                    await tx.fail_challenge(challenge.id)
        if failure is not None:
            raise failure
        assert challenge is not None
        return challenge.user_id, challenge.method

    def _usable(
        self, challenge: ChallengeRecord, now: datetime, user_agent: str | None, client_ip: str | None
    ) -> bool:
        return (
            challenge.used_at is None
            and challenge.expires_at > now
            and challenge.failed_attempts < self.limits.challenge_attempts
            # bound to the device that proved the first factor
            and challenge.user_agent == _device(user_agent)
            and challenge.client_ip == client_ip
        )

    async def _spend_code(
        self, tx: MfaTx, credential: TotpCredential, code: str, now: datetime
    ) -> ApiError | None:
        """Check and spend a code under the credential's row lock; the error to raise, if any."""
        limits = self.limits
        since = now - timedelta(seconds=limits.failure_window_s)
        failures = await tx.failures_since(credential.user_id, since)
        if len(failures) >= limits.failures_per_user:
            # Checked before the code: past the budget even the right code waits (no brute force
            # by opening challenge after challenge with a known password).
            oldest_counted = failures[-limits.failures_per_user]
            wait = (oldest_counted + timedelta(seconds=limits.failure_window_s) - now).total_seconds()
            return too_many_requests(max(1, math.ceil(wait)))
        if await self._spend(tx, credential, code.strip(), now):
            return None
        await tx.record_failure(credential.user_id, now, forget_before=since)
        return mfa_errors.invalid_code()

    async def _spend(self, tx: MfaTx, credential: TotpCredential, code: str, now: datetime) -> bool:
        if totp.is_code_shaped(code):
            step = totp.matching_step(credential.secret, code, now, after=credential.last_used_step)
            return step is not None and await tx.spend_step(credential.user_id, step)
        if is_recovery_shaped(code):
            return await tx.spend_recovery_code(credential.user_id, recovery_code_hash(code), now)
        return False
