"""Ending background tasks (relays, consumers, jobs) the same way everywhere."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


async def finish(task: asyncio.Task[Any], grace: float) -> None:
    """Let `task` end on its own for up to `grace` seconds, then cancel it and wait."""
    try:
        await asyncio.wait_for(asyncio.shield(task), grace)
    except TimeoutError:
        await cancel(task)


async def cancel(task: asyncio.Task[Any]) -> None:
    """Cancel `task` and wait until it has ended (its own errors are not re-raised)."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
