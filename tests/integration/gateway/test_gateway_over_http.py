"""The gateway over real HTTP (uvicorn) with HttpUpstream to real backends."""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import AsyncIterator

import httpx

from tests.integration.gateway.conftest import Stack


def client(stack: Stack) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=stack.gateway_url, timeout=10)


async def test_proxies_with_identity_headers(stack: Stack) -> None:
    token = stack.issuer.issue("user-1", ["user"], "s1", 300).token
    async with client(stack) as c:
        r = await c.get(
            "/api/v1/auth/echo?x=1",
            headers={"Authorization": f"Bearer {token}", "X-User-Id": "spoof", "X-Request-ID": "it-1"},
        )
    assert r.status_code == 200 and r.json()["path"] == "/api/v1/auth/echo"
    assert r.headers["x-request-id"] == "it-1"
    seen = stack.auth.requests[-1]["headers"]
    assert seen[b"x-user-id"] == b"user-1" and seen[b"x-user-roles"] == b"user"
    assert seen[b"x-original-ip"] == b"127.0.0.1" and seen[b"x-request-id"] == b"it-1"


async def test_streams_a_large_body_both_ways(stack: Stack) -> None:
    size = 8 * 1024 * 1024 + 123
    block = b"parovoz!" * 8192  # 64 KiB

    async def upload() -> AsyncIterator[bytes]:
        remaining = size
        while remaining:
            part = block[: min(len(block), remaining)]
            remaining -= len(part)
            yield part

    expected = hashlib.sha256()
    remaining = size
    while remaining:
        part = block[: min(len(block), remaining)]
        remaining -= len(part)
        expected.update(part)
    async with client(stack) as c:
        up = await c.post("/api/v1/games/upload", content=upload())  # chunked, no Content-Length
        sized = await c.post("/api/v1/games/upload", content=b"z" * 300_000)
        digest, received, chunks = hashlib.sha256(), 0, 0
        async with c.stream("GET", f"/api/v1/games/download?size={size}") as down:
            assert down.status_code == 200
            async for chunk in down.aiter_raw():
                digest.update(chunk)
                received += len(chunk)
                chunks += 1
    assert up.status_code == 200 and up.json() == {
        "path": "/api/v1/games/upload",
        "sha256": expected.hexdigest(),
        "length": size,
    }
    assert sized.json()["length"] == 300_000
    reference = hashlib.sha256()
    block_down = bytes(range(256)) * 256
    remaining = size
    while remaining:
        part = block_down[: min(len(block_down), remaining)]
        remaining -= len(part)
        reference.update(part)
    assert received == size and digest.hexdigest() == reference.hexdigest()
    assert chunks > 1  # it arrived as a stream, not as one buffered blob


async def test_gzip_over_the_wire(stack: Stack) -> None:
    async with (
        client(stack) as c,
        c.stream("GET", "/api/v1/openapi.json", headers={"Accept-Encoding": "gzip"}) as r,
    ):
        raw = b"".join([chunk async for chunk in r.aiter_raw()])
        assert r.headers["content-encoding"] == "gzip"
    assert gzip.decompress(raw).startswith(b"{")


async def test_backend_down_is_502_then_503_with_retry_after(stack: Stack) -> None:
    stack.down_upstream.breaker.record_success()  # earlier tests (docs, readyz) also tried it
    async with client(stack) as c:
        first = [await c.post("/api/v1/transactions/initiate", json={}) for _ in range(3)]
        opened = await c.post("/api/v1/transactions/initiate", json={}, headers={"Accept-Language": "en"})
    assert [r.status_code for r in first] == [502, 502, 502]
    assert first[0].json()["errors"][0]["code"] == "BAD_GATEWAY"
    assert opened.status_code == 503
    assert opened.json()["errors"][0]["code"] == "SERVICE_UNAVAILABLE"
    assert opened.json()["errors"][0]["detail"] == "The payment service is temporarily unavailable."
    assert 1 <= int(opened.headers["retry-after"]) <= 30


async def test_slow_backend_is_504(stack: Stack) -> None:
    async with client(stack) as c:
        r = await c.get("/api/v1/auth/slow")
    assert r.status_code == 504 and r.json()["errors"][0]["code"] == "GATEWAY_TIMEOUT"


async def test_readyz_lists_services_that_are_not_ready(stack: Stack) -> None:
    stack.catalog.ready = False
    try:
        async with client(stack) as c:
            r = await c.get("/readyz", headers={"Accept-Language": "en"})
    finally:
        stack.catalog.ready = True
    assert r.status_code == 503
    details = sorted(item["detail"] for item in r.json()["errors"])
    # catalog answers 503; payment is down (its circuit may be open) — both are listed, auth is not
    assert details == [
        "The catalog service is temporarily unavailable.",
        "The payment service is temporarily unavailable.",
    ]


async def test_merged_openapi_holds_both_backends_paths(stack: Stack) -> None:
    async with client(stack) as c:
        doc = (await c.get("/api/v1/openapi.json")).json()
    assert "/api/v1/auth/echo" in doc["paths"] and "/api/v1/games/echo" in doc["paths"]
    assert "/healthz" in doc["paths"]  # the gateway's own probe, not a service's
    assert "/api/v1/docs" in doc["paths"]
    schemas = doc["components"]["schemas"]
    # both define Money differently: each keeps its own under a prefixed name
    assert schemas["AuthMoney"]["title"] == "auth" and schemas["CatalogMoney"]["title"] == "catalog"
    assert "Money" not in schemas


async def test_docs_page_and_assets_load_offline(stack: Stack) -> None:
    async with client(stack) as c:
        page = await c.get("/api/v1/docs")
        bundle = await c.get("/api/v1/docs/assets/swagger-ui-bundle.js")
        init = await c.get("/api/v1/docs/assets/init.js")
        missing = await c.get("/api/v1/docs/assets/../../etc/passwd")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "/api/v1/docs/assets/swagger-ui-bundle.js" in page.text
    assert bundle.status_code == 200 and len(bundle.content) > 100_000
    assert "/api/v1/openapi.json" in init.text
    assert missing.status_code == 404
