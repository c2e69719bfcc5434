"""Real HTTP: two tiny backends and the gateway, each served by uvicorn on a free loopback port."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import orjson
import pytest

from parovoz.chassis.config import Settings
from parovoz.chassis.security.ratelimit import MemoryRateLimiter
from parovoz.chassis.security.tokens import JwksTokenVerifier, SigningKey, TokenIssuer, local_jwks_source
from parovoz.gateway import Gateway, HttpUpstream, Route
from tests.infra import free_port
from tests.servers import ServedApp


@dataclass
class Backend:
    """A service stand-in: echo, streaming upload/download, slow answers, readiness and OpenAPI."""

    prefix: str
    ready: bool = True
    schema_tag: str = "shared"
    requests: list[dict[str, Any]] = field(default_factory=list)

    def openapi(self) -> dict[str, Any]:
        return {
            "openapi": "3.1.0",
            "info": {"title": self.prefix, "version": "1"},
            "paths": {
                f"{self.prefix}/echo": {"get": {"responses": {"200": {"description": "echo"}}}},
                "/healthz": {"get": {"responses": {"200": {"description": "own probe"}}}},
            },
            "components": {"schemas": {"Money": {"type": "object", "title": self.schema_tag}}},
        }

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        path, query = scope["path"], parse_qs(scope["query_string"].decode())
        digest, length = hashlib.sha256(), 0
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            digest.update(chunk)
            length += len(chunk)
            if not message.get("more_body"):
                break
        self.requests.append({"path": path, "headers": dict(scope["headers"])})
        if path == f"{self.prefix}/download":
            size = int(query["size"][0])
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/octet-stream")],
                }
            )
            block = bytes(range(256)) * 256  # 64 KiB
            sent = 0
            while sent < size:
                part = block[: min(len(block), size - sent)]
                sent += len(part)
                await send({"type": "http.response.body", "body": part, "more_body": sent < size})
            return
        if path == f"{self.prefix}/slow":
            await asyncio.sleep(3)
        status, payload = 200, b""
        if path == "/readyz":
            status = 200 if self.ready else 503
            payload = b'{"status":"ready"}' if self.ready else b'{"errors":[]}'
        elif path == "/openapi.json":
            payload = orjson.dumps(self.openapi())
        else:
            payload = orjson.dumps({"path": path, "sha256": digest.hexdigest(), "length": length})
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": payload})


@dataclass
class Stack:
    gateway_url: str
    auth: Backend
    catalog: Backend
    issuer: TokenIssuer
    down_upstream: HttpUpstream


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    key = SigningKey.generate()
    auth, catalog = Backend("/api/v1/auth", schema_tag="auth"), Backend("/api/v1/games", schema_tag="catalog")
    with ServedApp(auth) as auth_server, ServedApp(catalog) as catalog_server:
        down = HttpUpstream(f"http://127.0.0.1:{free_port()}", failure_threshold=3, open_seconds=30)
        upstreams = {
            "auth": HttpUpstream(auth_server.url, timeout=1.0),
            "catalog": HttpUpstream(catalog_server.url, timeout=1.0),
            "payment": down,
        }
        routes = [
            Route("/api/v1/auth", "auth"),
            Route("/api/v1/games", "catalog"),
            Route("/api/v1/transactions", "payment"),
        ]
        settings = Settings.from_env({"PAROVOZ_MAX_BODY_BYTES": str(64 * 1024 * 1024)})
        gateway = Gateway(
            routes,
            upstreams,
            verifier=JwksTokenVerifier(local_jwks_source([key])),
            limiter=MemoryRateLimiter(),
            settings=settings,
        )
        with ServedApp(gateway, lifespan="on") as gateway_server:
            yield Stack(gateway_server.url, auth, catalog, TokenIssuer(key), down)
