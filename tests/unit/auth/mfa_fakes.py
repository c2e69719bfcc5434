"""An in-memory `MfaStore` for the 2FA flows: same contract as mfa_store.py (changes are kept on
commit only; a raised error discards them, like a rolled-back transaction)."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

from parovoz.services.auth.domain.mfa import ChallengeRecord, TotpCredential


@dataclasses.dataclass
class MfaState:
    credentials: dict[str, TotpCredential] = dataclasses.field(default_factory=dict)
    # (user id, code hash) → used_at
    recovery: dict[tuple[str, bytes], datetime | None] = dataclasses.field(default_factory=dict)
    # token hash → challenge
    challenges: dict[bytes, ChallengeRecord] = dataclasses.field(default_factory=dict)
    failures: list[tuple[str, datetime]] = dataclasses.field(default_factory=list)
    # (user id, enabled) of each auth.user.two_factor.changed.v1 written
    events: list[tuple[str, bool]] = dataclasses.field(default_factory=list)


class FakeMfaStore:
    def __init__(self) -> None:
        self.state = MfaState()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[FakeMfaTx]:
        snapshot = copy.deepcopy(self.state)
        try:
            yield FakeMfaTx(self.state)
        except BaseException:
            self.state.__dict__.update(snapshot.__dict__)
            raise

    async def credential(self, user_id: str) -> TotpCredential | None:
        return self.state.credentials.get(user_id)

    def recovery_left(self, user_id: str) -> int:
        return sum(1 for (uid, _), used in self.state.recovery.items() if uid == user_id and used is None)


class FakeMfaTx:
    def __init__(self, state: MfaState) -> None:
        self.s = state

    async def lock_credential(self, user_id: str) -> TotpCredential | None:
        return self.s.credentials.get(user_id)

    async def put_pending(self, user_id: str, secret: str, now: datetime) -> bool:
        found = self.s.credentials.get(user_id)
        if found is not None and found.enabled:
            return False
        self.s.credentials[user_id] = TotpCredential(user_id, secret, None, None, now)
        return True

    async def confirm(self, user_id: str, step: int, now: datetime) -> bool:
        found = self.s.credentials.get(user_id)
        if found is None or found.enabled:
            return False
        self.s.credentials[user_id] = dataclasses.replace(found, confirmed_at=now, last_used_step=step)
        return True

    async def replace_recovery_codes(self, user_id: str, hashes: list[bytes], now: datetime) -> None:
        self.s.recovery = {k: v for k, v in self.s.recovery.items() if k[0] != user_id}
        self.s.recovery.update({(user_id, h): None for h in hashes})

    async def spend_step(self, user_id: str, step: int) -> bool:
        found = self.s.credentials[user_id]
        if found.last_used_step is not None and found.last_used_step >= step:
            return False
        self.s.credentials[user_id] = dataclasses.replace(found, last_used_step=step)
        return True

    async def spend_recovery_code(self, user_id: str, code_hash: bytes, now: datetime) -> bool:
        key = (user_id, code_hash)
        if key not in self.s.recovery or self.s.recovery[key] is not None:
            return False
        self.s.recovery[key] = now
        return True

    async def failures_since(self, user_id: str, since: datetime) -> list[datetime]:
        return sorted(at for uid, at in self.s.failures if uid == user_id and at > since)

    async def record_failure(self, user_id: str, now: datetime, forget_before: datetime) -> None:
        self.s.failures = [(u, at) for u, at in self.s.failures if not (u == user_id and at <= forget_before)]
        self.s.failures.append((user_id, now))

    async def remove_two_factor(self, user_id: str) -> None:
        self.s.credentials.pop(user_id, None)
        self.s.recovery = {k: v for k, v in self.s.recovery.items() if k[0] != user_id}
        self.s.challenges = {k: c for k, c in self.s.challenges.items() if c.user_id != user_id}

    async def record_two_factor_changed(self, user_id: str, enabled: bool, now: datetime) -> None:
        self.s.events.append((user_id, enabled))

    async def insert_challenge(
        self, record: ChallengeRecord, token_hash: bytes, created_at: datetime
    ) -> None:
        self.s.challenges[token_hash] = record

    async def challenge_user(self, token_hash: bytes) -> str | None:
        found = self.s.challenges.get(token_hash)
        return found.user_id if found else None

    async def lock_challenge(self, token_hash: bytes) -> ChallengeRecord | None:
        return self.s.challenges.get(token_hash)

    def _replace(self, challenge_id: str, **changes: object) -> None:
        for key, challenge in self.s.challenges.items():
            if challenge.id == challenge_id:
                self.s.challenges[key] = dataclasses.replace(challenge, **changes)  # type: ignore[arg-type]

    async def fail_challenge(self, challenge_id: str) -> None:
        for challenge in self.s.challenges.values():
            if challenge.id == challenge_id:
                self._replace(challenge_id, failed_attempts=challenge.failed_attempts + 1)
                return

    async def spend_challenge(self, challenge_id: str, now: datetime) -> bool:
        for challenge in self.s.challenges.values():
            if challenge.id == challenge_id and challenge.used_at is None:
                self._replace(challenge_id, used_at=now)
                return True
        return False
