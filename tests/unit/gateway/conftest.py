"""Gateway test helpers: an echoing ASGI backend, real RS256 tokens, and a gateway factory."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from parovoz.chassis.config import Settings
from parovoz.chassis.security.ratelimit import MemoryRateLimiter
from parovoz.chassis.security.tokens import JwksTokenVerifier, SigningKey, TokenIssuer, local_jwks_source
from parovoz.gateway import AsgiUpstream, Gateway, Route

BIG_TEXT = ("all work and no play makes a dull game. " * 100).encode()  # ~4 KiB


async def echo_backend(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers with what it received; a few paths behave specially (big body, slow, stream)."""
    assert scope["type"] == "http"
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    path = scope["path"]
    status, content_type, payload = 200, b"application/json", b""
    extra: list[tuple[bytes, bytes]] = []
    if path == "/readyz":
        payload = b'{"status":"ready"}'
    elif path.endswith("/big"):
        content_type, payload = b"text/plain", BIG_TEXT
    elif path.endswith("/slow"):
        await asyncio.sleep(2)
        payload = b"{}"
    elif path.endswith("/gone"):
        status, payload = 404, b'{"errors":[{"code":"GAME_NOT_FOUND","title":"t","detail":"d"}]}'
    else:
        payload = orjson.dumps(
            {
                "path": path,
                "query": scope["query_string"].decode(),
                "method": scope["method"],
                "headers": [[n.decode(), v.decode()] for n, v in scope["headers"]],
                "bodyLength": len(body),
            }
        )
        extra = [(b"x-request-id", b"from-backend"), (b"x-frame-options", b"SAMEORIGIN")]
    headers = [(b"content-type", content_type), (b"content-length", str(len(payload)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def header_values(echo: dict[str, Any], name: str) -> list[str]:
    return [value for key, value in echo["headers"] if key == name]


@pytest.fixture(scope="session")
def signing_key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture(scope="session")
def issuer(signing_key: SigningKey) -> TokenIssuer:
    return TokenIssuer(signing_key)


@pytest.fixture
def verifier(signing_key: SigningKey) -> JwksTokenVerifier:
    return JwksTokenVerifier(local_jwks_source([signing_key]))


@pytest.fixture
def make_gateway(verifier: JwksTokenVerifier) -> Callable[..., Gateway]:
    def make(backend: Any = echo_backend, *, timeout: float = 5.0, **env: str) -> Gateway:
        settings = Settings.from_env({f"PAROVOZ_{k}": v for k, v in env.items()})
        routes = [Route("/api/v1/auth", "auth"), Route("/api/v1/users", "account")]
        upstreams = {"auth": AsgiUpstream(backend, timeout=timeout), "account": AsgiUpstream(backend)}
        return Gateway(routes, upstreams, verifier=verifier, limiter=MemoryRateLimiter(), settings=settings)

    return make
