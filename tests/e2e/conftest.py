"""An embedded platform started in the test process, shared by the gateway-level tests."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from parovoz.runtime.embedded import EmbeddedPlatform
from tests.e2e.platforms import platform_with

_addresses = itertools.count(10)


@pytest.fixture(scope="session")
async def embedded_platform() -> AsyncIterator[EmbeddedPlatform]:
    async with platform_with({}, demo=True) as platform:
        yield platform


@pytest.fixture
def gateway_client(embedded_platform: EmbeddedPlatform) -> Callable[..., httpx.AsyncClient]:
    """`gateway_client()` → a client of the gateway with its own client address (own rate limits)."""

    def make(address: str | None = None) -> httpx.AsyncClient:
        ip = address or f"198.51.100.{next(_addresses) % 250}"
        transport = httpx.ASGITransport(app=embedded_platform.gateway, client=(ip, 40000))
        return httpx.AsyncClient(transport=transport, base_url="http://parovoz.test", timeout=10)

    return make
