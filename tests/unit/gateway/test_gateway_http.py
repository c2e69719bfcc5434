"""The gateway's request handling in process (AsgiUpstream), driven through httpx's ASGI transport."""

from __future__ import annotations

import gzip
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest

from parovoz.chassis.security.tokens import SigningKey, TokenIssuer
from parovoz.gateway import Gateway
from tests.unit.gateway.conftest import BIG_TEXT, header_values

MakeGateway = Callable[..., Gateway]


def client(gateway: Gateway) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway), base_url="http://gw")


def error_codes(response: httpx.Response) -> list[str]:
    return [item["code"] for item in response.json()["errors"]]


async def test_request_is_proxied_with_identity_headers_and_path(make_gateway: MakeGateway) -> None:
    async with client(make_gateway()) as c:
        r = await c.post("/api/v1/users/me?fields=id", content=b"hello", headers={"X-Request-ID": "req-1"})
    assert r.status_code == 200
    echo = r.json()
    assert echo["path"] == "/api/v1/users/me" and echo["query"] == "fields=id" and echo["bodyLength"] == 5
    assert header_values(echo, "x-request-id") == ["req-1"]
    assert header_values(echo, "x-original-ip") == ["127.0.0.1"]
    assert header_values(echo, "x-user-id") == []  # anonymous: passed through, services decide
    assert r.headers["x-request-id"] == "req-1"  # the backend's own value is replaced, not duplicated
    assert r.headers.get_list("x-request-id") == ["req-1"]
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers.get_list("x-frame-options") == ["DENY"]
    assert r.headers["referrer-policy"] == "no-referrer"


async def test_spoofed_identity_headers_are_stripped(make_gateway: MakeGateway) -> None:
    spoof = {"X-User-Id": "admin-1", "X-User-Roles": "admin", "X-Original-IP": "10.9.9.9"}
    async with client(make_gateway()) as c:
        echo = (await c.get("/api/v1/users/me", headers=spoof)).json()
    assert header_values(echo, "x-user-id") == []
    assert header_values(echo, "x-user-roles") == []
    assert header_values(echo, "x-original-ip") == ["127.0.0.1"]


async def test_request_id_is_generated_when_missing_or_malformed(make_gateway: MakeGateway) -> None:
    async with client(make_gateway()) as c:
        r1 = await c.get("/api/v1/users/me")
        r2 = await c.get("/api/v1/users/me", headers={"X-Request-ID": "bad id\twith spaces"})
    for r in (r1, r2):
        generated = r.headers["x-request-id"]
        assert len(generated) == 36 and generated.count("-") == 4
        assert header_values(r.json(), "x-request-id") == [generated]
    assert r1.headers["x-request-id"] != r2.headers["x-request-id"]


async def test_valid_token_adds_user_headers(make_gateway: MakeGateway, issuer: TokenIssuer) -> None:
    token = issuer.issue("user-7", ["user", "developer"], "sess-1", 300).token
    async with client(make_gateway()) as c:
        echo = (await c.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})).json()
    assert header_values(echo, "x-user-id") == ["user-7"]
    assert header_values(echo, "x-user-roles") == ["developer,user"]
    assert header_values(echo, "authorization") == [f"Bearer {token}"]  # services verify it again


def _tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    flipped = "A" if signature[5] != "A" else "B"
    return ".".join([header, payload, signature[:5] + flipped + signature[6:]])


def _without_kid(signing_key: SigningKey) -> str:
    now = int(time.time())
    claims = {"sub": "u", "jti": "j", "iat": now, "exp": now + 300, "iss": "parovoz-auth", "aud": "parovoz"}
    return jwt.encode(claims, signing_key.private_key, algorithm="RS256")


@pytest.mark.parametrize("kind", ["tampered", "expired", "missing-kid", "garbage"])
async def test_bad_token_is_401_in_the_error_format(
    make_gateway: MakeGateway, issuer: TokenIssuer, signing_key: SigningKey, kind: str
) -> None:
    token = {
        "tampered": lambda: _tampered(issuer.issue("u", ["user"], None, 300).token),
        "expired": lambda: issuer.issue("u", ["user"], None, -120).token,
        "missing-kid": lambda: _without_kid(signing_key),
        "garbage": lambda: "not-a-jwt",
    }[kind]()
    async with client(make_gateway()) as c:
        r = await c.get(
            "/api/v1/users/me", headers={"Authorization": f"Bearer {token}", "Accept-Language": "en"}
        )
    assert r.status_code == 401
    assert error_codes(r) == ["INVALID_TOKEN"]
    assert r.json()["errors"][0]["title"] == "Invalid token"
    assert r.headers["x-request-id"] and r.headers["x-content-type-options"] == "nosniff"


async def test_unknown_route_is_404_route_not_found(make_gateway: MakeGateway) -> None:
    async with client(make_gateway()) as c:
        r = await c.get("/api/v1/nothing-here", headers={"X-Request-ID": "r404"})
    assert r.status_code == 404
    assert r.json()["errors"][0] == {
        "code": "ROUTE_NOT_FOUND",
        "title": "Маршрут не найден",
        "detail": "Такого адреса API нет.",
    }
    assert r.headers["x-request-id"] == "r404"


async def test_service_error_bodies_pass_through_unchanged(make_gateway: MakeGateway) -> None:
    async with client(make_gateway()) as c:
        r = await c.get("/api/v1/users/gone")
    assert r.status_code == 404
    assert r.content == b'{"errors":[{"code":"GAME_NOT_FOUND","title":"t","detail":"d"}]}'


async def test_rate_limit_per_ip_gives_429_with_retry_after(make_gateway: MakeGateway) -> None:
    async with client(make_gateway(GATEWAY_RATE_LIMIT="3")) as c:
        statuses = [(await c.get("/api/v1/users/me")).status_code for _ in range(3)]
        r = await c.get("/api/v1/users/me")
    assert statuses == [200, 200, 200]
    assert r.status_code == 429 and error_codes(r) == ["RATE_LIMITED"]
    assert int(r.headers["retry-after"]) >= 1


async def test_rate_limit_counts_users_separately_from_their_ip(
    make_gateway: MakeGateway, issuer: TokenIssuer
) -> None:
    gateway = make_gateway(GATEWAY_RATE_LIMIT="1", GATEWAY_USER_RATE_LIMIT="2")
    alice = {"Authorization": "Bearer " + issuer.issue("alice", ["user"], None, 300).token}
    async with client(gateway) as c:
        anonymous = [(await c.get("/api/v1/users/me")).status_code for _ in range(2)]
        as_alice = [(await c.get("/api/v1/users/me", headers=alice)).status_code for _ in range(3)]
    assert anonymous == [200, 429]
    assert as_alice == [200, 200, 429]


async def test_body_over_limit_by_content_length_is_413(make_gateway: MakeGateway) -> None:
    async with client(make_gateway(MAX_BODY_BYTES="100")) as c:
        r = await c.post("/api/v1/users/me", content=b"x" * 101)
        ok = await c.post("/api/v1/users/me", content=b"x" * 100)
    assert r.status_code == 413 and error_codes(r) == ["PAYLOAD_TOO_LARGE"]
    assert ok.status_code == 200


async def test_chunked_body_over_limit_is_counted_and_413(make_gateway: MakeGateway) -> None:
    async def chunks() -> Any:
        for _ in range(5):
            yield b"y" * 40

    async with client(make_gateway(MAX_BODY_BYTES="100")) as c:
        r = await c.post("/api/v1/users/me", content=chunks())
    assert r.status_code == 413 and error_codes(r) == ["PAYLOAD_TOO_LARGE"]


async def test_gzip_only_above_1_kib_and_only_when_accepted(make_gateway: MakeGateway) -> None:
    async with client(make_gateway()) as c:
        big = await c.get("/api/v1/users/big", headers={"Accept-Encoding": "gzip"})
        plain = await c.get("/api/v1/users/big", headers={"Accept-Encoding": "identity"})
        small = await c.get("/api/v1/users/gone", headers={"Accept-Encoding": "gzip"})
    assert big.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in big.headers["vary"].lower()
    assert big.content == BIG_TEXT  # httpx decoded it; the wire bytes were smaller:
    assert int(big.headers.get("content-length", "0")) < len(BIG_TEXT) or "content-length" not in big.headers
    assert "content-encoding" not in plain.headers and plain.content == BIG_TEXT
    assert "content-encoding" not in small.headers


async def test_gzip_wire_bytes_decompress_to_the_body(make_gateway: MakeGateway) -> None:
    async with (
        client(make_gateway()) as c,
        c.stream("GET", "/api/v1/users/big", headers={"Accept-Encoding": "gzip"}) as r,
    ):
        raw = b"".join([chunk async for chunk in r.aiter_raw()])
    assert len(raw) < len(BIG_TEXT) and gzip.decompress(raw) == BIG_TEXT


async def test_cors_preflight_answered_at_the_gateway(make_gateway: MakeGateway) -> None:
    gateway = make_gateway(CORS_ORIGINS="https://store.parovoz.ru")
    preflight = {
        "Origin": "https://store.parovoz.ru",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    async with client(gateway) as c:
        r = await c.options("/api/v1/users/me", headers=preflight)
        evil = await c.options("/api/v1/users/me", headers={**preflight, "Origin": "https://evil.example"})
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == "https://store.parovoz.ru"
    assert r.headers["access-control-allow-credentials"] == "true"
    assert "POST" in r.headers["access-control-allow-methods"]
    assert r.headers["access-control-allow-headers"] == "authorization, content-type"
    assert "Origin" in r.headers["vary"]
    assert evil.status_code == 403 and "access-control-allow-origin" not in evil.headers


async def test_cors_actual_request_gets_origin_headers(make_gateway: MakeGateway) -> None:
    gateway = make_gateway(CORS_ORIGINS="https://store.parovoz.ru")
    async with client(gateway) as c:
        allowed = await c.get("/api/v1/users/me", headers={"Origin": "https://store.parovoz.ru"})
        other = await c.get("/api/v1/users/me", headers={"Origin": "https://evil.example"})
    assert allowed.headers["access-control-allow-origin"] == "https://store.parovoz.ru"
    assert allowed.headers["access-control-allow-credentials"] == "true"
    assert "x-request-id" in allowed.headers["access-control-expose-headers"].lower()
    assert "access-control-allow-origin" not in other.headers


async def test_wildcard_cors_never_allows_credentials(make_gateway: MakeGateway) -> None:
    async with client(make_gateway(CORS_ORIGINS="*")) as c:
        r = await c.get("/api/v1/users/me", headers={"Origin": "https://anyone.example"})
    assert r.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in r.headers


async def test_asgi_upstream_timeout_is_504(make_gateway: MakeGateway) -> None:
    async with client(make_gateway(timeout=0.2)) as c:
        r = await c.get("/api/v1/auth/slow", headers={"Accept-Language": "en"})
    assert r.status_code == 504 and error_codes(r) == ["GATEWAY_TIMEOUT"]
    assert r.json()["errors"][0]["detail"] == "The auth service did not answer in time."


async def test_crashing_embedded_app_is_502_without_internals(make_gateway: MakeGateway) -> None:
    async def crashing(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("secret internal detail")

    async with client(make_gateway(crashing)) as c:
        r = await c.get("/api/v1/auth/login")
    assert r.status_code == 502 and error_codes(r) == ["BAD_GATEWAY"]
    assert b"secret" not in r.content


async def test_trusted_proxy_forwarded_for_is_honoured_only_from_trusted_peers(
    make_gateway: MakeGateway,
) -> None:
    forwarded = {"X-Forwarded-For": "6.6.6.6, 203.0.113.9"}
    async with client(make_gateway(GATEWAY_TRUSTED_PROXIES="127.0.0.0/8")) as c:
        trusted = (await c.get("/api/v1/users/me", headers=forwarded)).json()
    async with client(make_gateway()) as c:
        untrusted = (await c.get("/api/v1/users/me", headers=forwarded)).json()
    assert header_values(trusted, "x-original-ip") == ["203.0.113.9"]
    assert header_values(untrusted, "x-original-ip") == ["127.0.0.1"]


async def test_own_probe_routes(make_gateway: MakeGateway) -> None:
    async with client(make_gateway()) as c:
        health = await c.get("/healthz")
        ready = await c.get("/readyz")
        metrics = await c.get("/metrics")
        wrong_method = await c.post("/healthz")
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    assert ready.status_code == 200 and ready.json()["services"] == ["account", "auth"]
    assert metrics.status_code == 200
    assert 'parovoz_http_requests_total{method="GET",route="/healthz",service="gateway",status="200"}' in (
        metrics.text
    )
    assert wrong_method.status_code == 405 and wrong_method.headers["allow"] == "GET, HEAD"
