"""An embedded platform started in the test process, shared by the gateway-level tests."""

from __future__ import annotations

import itertools
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from parovoz.chassis.config import Settings
from parovoz.runtime.embedded import EmbeddedPlatform

_addresses = itertools.count(10)


@pytest.fixture(scope="session")
async def embedded_platform() -> AsyncIterator[EmbeddedPlatform]:
    root = Path(tempfile.mkdtemp(prefix="pz-e2e-"))
    settings = Settings.from_env({}, mode="embedded", demo_data=True)
    platform = EmbeddedPlatform(data_dir=root / "data", settings=settings, demo=True)
    await platform.start()
    try:
        yield platform
    finally:
        await platform.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def gateway_client(embedded_platform: EmbeddedPlatform) -> Callable[..., httpx.AsyncClient]:
    """`gateway_client()` → a client of the gateway with its own client address (own rate limits)."""

    def make(address: str | None = None) -> httpx.AsyncClient:
        ip = address or f"198.51.100.{next(_addresses) % 250}"
        transport = httpx.ASGITransport(app=embedded_platform.gateway, client=(ip, 40000))
        return httpx.AsyncClient(transport=transport, base_url="http://parovoz.test", timeout=10)

    return make
