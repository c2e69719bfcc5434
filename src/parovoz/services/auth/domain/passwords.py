"""argon2id hashing off the event loop, in a bounded executor.

One hash costs ~17 ms of CPU at the OWASP minimum (19 MiB, t=2). argon2 releases the GIL, so a
small thread pool keeps the loop free; the semaphore bounds how many hashes may wait for it, so a
login flood queues coroutines (cheap) instead of piling work onto the pool, and other routes keep
their latency (PERFORMANCE.md, sign-in).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

T = TypeVar("T")


@dataclass(frozen=True)
class HashParams:
    """argon2id cost; the defaults are OWASP's minimum."""

    memory_kib: int = 19 * 1024
    time_cost: int = 2
    parallelism: int = 1


class Passwords:
    """Hash, verify and rehash passwords; every argon2 call runs in the bounded executor."""

    def __init__(self, params: HashParams | None = None, *, workers: int = 2) -> None:
        self.params = params or HashParams()
        self._hasher = PasswordHasher(
            time_cost=self.params.time_cost,
            memory_cost=self.params.memory_kib,
            parallelism=self.params.parallelism,
            type=Type.ID,
        )
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="argon2")
        self._slots = asyncio.Semaphore(workers)
        # Made once, now, so even the first unknown-user login costs exactly one verification.
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(24))

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        async with self._slots:
            return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def hash(self, password: str) -> str:
        return await self._run(self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """False as well for a user without a password (signed up through a provider), after the
        same work as a real verification: such an account answers exactly like a wrong password."""
        if password_hash is None:
            await self.verify_dummy(password)
            return False
        return await self._run(self._verify_sync, password_hash, password)

    def _verify_sync(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def verify_dummy(self, password: str) -> None:
        """Spend the time a real verification costs, so an unknown user answers like a wrong password."""
        await self.verify(self._dummy_hash, password)

    def needs_rehash(self, password_hash: str | None) -> bool:
        """True when the stored hash used other (older) parameters than the current ones."""
        if password_hash is None:
            return False
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except (InvalidHashError, ValueError):
            return True

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
