"""Answering in constant time where the work differs with a secret (does the account exist?)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


@asynccontextmanager
async def no_sooner_than(seconds: float) -> AsyncIterator[None]:
    """The block ends no sooner than `seconds` after it began (it waits out the rest, idly).

    A floor above the slower path's usual time makes both paths answer alike; a sleep costs a
    parked coroutine, no CPU, and the routes using it are rate-limited per client address.
    """
    deadline = time.monotonic() + seconds
    yield  # an error passes at once: a failing block has nothing to hide and cancellation must not wait
    remaining = deadline - time.monotonic()
    if remaining > 0:
        await asyncio.sleep(remaining)
