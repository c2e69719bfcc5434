"""argon2id hashing: OWASP parameters, verification, rehash on stronger parameters, bounded pool."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from argon2 import extract_parameters

from parovoz.services.auth.domain.passwords import HashParams, Passwords

WEAK = HashParams(memory_kib=8 * 1024, time_cost=1, parallelism=1)


async def test_default_hash_is_argon2id_at_the_owasp_minimum() -> None:
    passwords = Passwords()
    hashed = await passwords.hash("correct horse battery")
    params = extract_parameters(hashed)
    assert hashed.startswith("$argon2id$")
    assert (params.memory_cost, params.time_cost, params.parallelism) == (19 * 1024, 2, 1)
    assert await passwords.verify(hashed, "correct horse battery")
    assert not await passwords.verify(hashed, "correct horse batterY")
    passwords.close()


async def test_verify_of_a_garbage_hash_is_false_not_an_error() -> None:
    passwords = Passwords(WEAK)
    assert not await passwords.verify("not-a-hash", "whatever1")
    assert passwords.needs_rehash("not-a-hash")
    passwords.close()


async def test_rehash_needed_only_when_parameters_rose() -> None:
    weak, strong = Passwords(WEAK), Passwords()
    old = await weak.hash("password-123")
    assert strong.needs_rehash(old)
    assert await strong.verify(old, "password-123")  # old hashes still verify
    assert not strong.needs_rehash(await strong.hash("password-123"))
    weak.close()
    strong.close()


async def test_hashing_runs_off_the_event_loop() -> None:
    passwords = Passwords(workers=2)
    ticks = 0
    stop = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0.001)

    task = asyncio.create_task(ticker())
    await asyncio.gather(*(passwords.hash(f"password-{i}") for i in range(6)))
    stop.set()
    await task
    # Six hashes take ~50 ms of pool time; had they run on the loop, the ticker could not have
    # run between them more than a couple of times.
    assert ticks >= 5
    passwords.close()


async def test_dummy_verification_costs_about_a_real_one() -> None:
    passwords = Passwords()
    real = await passwords.hash("password-xyz")

    async def fastest(make: Callable[[], Awaitable[object]]) -> float:
        best = float("inf")
        for _ in range(3):  # the fastest of three: the machine is shared and noisy
            t0 = time.perf_counter()
            await make()
            best = min(best, time.perf_counter() - t0)
        return best

    real_s = await fastest(lambda: passwords.verify(real, "wrong-password"))
    dummy_s = await fastest(lambda: passwords.verify_dummy("wrong-password"))
    assert 0.5 * real_s < dummy_s < 2 * real_s
    passwords.close()
