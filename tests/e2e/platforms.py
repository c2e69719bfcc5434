"""Embedded platforms for the gateway-level tests: the shared one (conftest.py) and private ones."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

from parovoz.chassis.config import Settings
from parovoz.runtime.embedded import EmbeddedPlatform


@asynccontextmanager
async def platform_with(env: Mapping[str, str], *, demo: bool = False) -> AsyncIterator[EmbeddedPlatform]:
    """An embedded platform of its own (private PostgreSQL in a temporary folder) with these
    `PAROVOZ_*` settings, for tests that need providers or databases the shared one lacks."""
    root = Path(tempfile.mkdtemp(prefix="pz-e2e-"))
    settings = Settings.from_env(dict(env), mode="embedded", demo_data=demo)
    platform = EmbeddedPlatform(data_dir=root / "data", settings=settings, demo=demo)
    await platform.start()
    try:
        yield platform
    finally:
        await platform.stop()
        shutil.rmtree(root, ignore_errors=True)
