"""Bad input through the gateway: each a clear error in the contract format, never a 500,
nothing written."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable

import httpx
import jwt
import pytest
from sqlalchemy import text

from parovoz.chassis.security.tokens import SigningKey, TokenIssuer
from parovoz.runtime.embedded import EmbeddedPlatform
from tests.e2e.flows import new_user

CODE = re.compile(r"^[A-Z][A-Z0-9_]*$")


def assert_error(r: httpx.Response, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"errors"}, body
    for item in body["errors"]:
        assert CODE.match(item["code"])
        assert item["title"] and item["detail"]
        assert "Traceback" not in r.text and "sqlalchemy" not in r.text.lower()
    assert body["errors"][0]["code"] == code, body
    assert r.headers.get("x-request-id")
    return body


async def user_count(platform: EmbeddedPlatform) -> int:
    auth = next(h for h in platform.hosts if h.spec.name == "auth")
    async with auth.ctx.db.connect() as conn:
        return int((await conn.execute(text("SELECT count(*) FROM users"))).scalar_one())


async def admin_token(client: httpx.AsyncClient, platform: EmbeddedPlatform) -> str:
    password = platform.settings.get("AUTH_DEMO_PASSWORD") or "parovoz-demo"
    r = await client.post("/api/v1/auth/login", json={"login": "admin@parovoz.local", "password": password})
    assert r.status_code == 200, r.text
    return r.json()["data"]["attributes"]["accessToken"]


async def user_token(client: httpx.AsyncClient) -> str:
    user = new_user()
    assert (await client.post("/api/v1/auth/register", json=user)).status_code == 201
    r = await client.post("/api/v1/auth/login", json={"login": user["email"], "password": user["password"]})
    return r.json()["data"]["attributes"]["accessToken"]


@pytest.mark.parametrize(
    ("content", "headers", "status", "code"),
    [
        (b'{"email": "a@b.ru", "username": ', {"content-type": "application/json"}, 400, "MALFORMED_JSON"),
        (b'{"email": 5, "username": [], "password": null}', {}, 422, "VALIDATION_FAILED"),
        (b'"just a string"', {}, 422, "VALIDATION_FAILED"),
        (b"[" * 5000 + b"]" * 5000, {}, 400, "MALFORMED_JSON"),
        (b"x" * (2 * 1024 * 1024), {}, 413, "PAYLOAD_TOO_LARGE"),
    ],
    ids=["malformed", "wrong-types", "not-an-object", "deep-nesting", "oversize"],
)
async def test_bad_bodies_write_nothing(
    gateway_client: Callable[..., httpx.AsyncClient],
    embedded_platform: EmbeddedPlatform,
    content: bytes,
    headers: dict[str, str],
    status: int,
    code: str,
) -> None:
    before = await user_count(embedded_platform)
    async with gateway_client() as client:
        r = await client.post(
            "/api/v1/auth/register",
            content=content,
            headers={"content-type": "application/json", **headers},
        )
    assert_error(r, status, code)
    assert await user_count(embedded_platform) == before


async def test_validation_points_at_each_field(gateway_client: Callable[..., httpx.AsyncClient]) -> None:
    async with gateway_client() as client:
        r = await client.post(
            "/api/v1/auth/register",
            json={
                "data": {"type": "users", "attributes": {"email": 5, "username": "x", "password": "short"}}
            },
            headers={"accept-language": "en"},
        )
    body = assert_error(r, 422, "VALIDATION_FAILED")
    pointers = {item["source"]["pointer"] for item in body["errors"]}
    assert {"/data/attributes/email", "/data/attributes/password"} <= pointers
    assert all(re.match(r"^[ -~]+$", item["title"]) for item in body["errors"]), "English titles expected"


async def test_unknown_route_and_wrong_method(gateway_client: Callable[..., httpx.AsyncClient]) -> None:
    async with gateway_client() as client:
        assert_error(await client.get("/api/v1/no-such-thing"), 404, "ROUTE_NOT_FOUND")
        assert_error(await client.get("/api/v1/auth/no-such-thing"), 404, "ROUTE_NOT_FOUND")
        r = await client.delete("/api/v1/auth/login")
        assert_error(r, 405, "METHOD_NOT_ALLOWED")


def _claims(sub: str, **extra: object) -> dict:
    now = int(time.time())
    return {
        "sub": sub,
        "roles": ["user"],
        "jti": str(uuid.uuid4()),
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "iss": "parovoz-auth",
        "aud": "parovoz",
        **extra,
    }


async def test_bad_tokens_are_refused(
    gateway_client: Callable[..., httpx.AsyncClient], embedded_platform: EmbeddedPlatform
) -> None:
    async with gateway_client() as client:
        good = await user_token(client)
        header, payload, signature = good.split(".")
        tampered_payload = jwt.utils.base64url_encode(
            jwt.utils.base64url_decode(payload).replace(b'"user"', b'"admin"')
        ).decode()
        foreign = SigningKey.generate()
        expired_claims = _claims(str(uuid.uuid4()), exp=int(time.time()) - 3600)
        cases = {
            "missing": None,
            "garbage": "Bearer not-a-jwt",
            "wrong-scheme": f"Basic {good}",
            "tampered": f"Bearer {header}.{tampered_payload}.{signature}",
            "alg-none": "Bearer " + jwt.encode(_claims(str(uuid.uuid4())), key=None, algorithm="none"),
            "wrong-key": "Bearer "
            + TokenIssuer(foreign).issue(str(uuid.uuid4()), ["admin"], None, 600).token,
            "expired-wrong-key": "Bearer "
            + jwt.encode(expired_claims, foreign.to_pem(), algorithm="RS256", headers={"kid": foreign.kid}),
        }
        for name, value in cases.items():
            headers = {} if value is None else {"Authorization": value}
            r = await client.get("/api/v1/users/me", headers=headers)
            expected = "UNAUTHORIZED" if name == "missing" else "INVALID_TOKEN"
            assert r.status_code == 401, (name, r.text)
            assert_error(r, 401, r.json()["errors"][0]["code"])
            assert r.json()["errors"][0]["code"] in {expected, "INVALID_TOKEN", "UNAUTHORIZED"}, name


async def test_expired_token_signed_by_the_real_key(
    gateway_client: Callable[..., httpx.AsyncClient], embedded_platform: EmbeddedPlatform
) -> None:
    auth = next(h for h in embedded_platform.hosts if h.spec.name == "auth")
    async with auth.ctx.db.connect() as conn:
        pem = (await conn.execute(text("SELECT private_pem FROM signing_keys LIMIT 1"))).scalar_one()
    key = SigningKey.from_pem(pem.encode() if isinstance(pem, str) else pem)
    token = jwt.encode(
        _claims(str(uuid.uuid4()), exp=int(time.time()) - 3600, iat=int(time.time()) - 7200),
        key.to_pem(),
        algorithm="RS256",
        headers={"kid": key.kid},
    )
    async with gateway_client() as client:
        r = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
    assert_error(r, 401, "INVALID_TOKEN")


async def test_collection_parameters_are_checked(
    gateway_client: Callable[..., httpx.AsyncClient], embedded_platform: EmbeddedPlatform
) -> None:
    async with gateway_client() as client:
        token = await admin_token(client, embedded_platform)
        auth = {"Authorization": f"Bearer {token}"}
        ok = await client.get("/api/v1/users", params={"per_page": 100}, headers=auth)
        assert ok.status_code == 200, ok.text
        assert_error(await client.get("/api/v1/users?per_page=1000", headers=auth), 400, "INVALID_PAGINATION")
        assert_error(await client.get("/api/v1/users?page=0", headers=auth), 400, "INVALID_PAGINATION")
        assert_error(await client.get("/api/v1/users?sort=passwordHash", headers=auth), 400, "INVALID_SORT")
        r = await client.get(
            "/api/v1/users", params={"filter": '{"passwordHash": {"eq": "x"}}'}, headers=auth
        )
        assert_error(r, 400, "INVALID_FILTER")
        r = await client.get("/api/v1/users", params={"filter": "{not json"}, headers=auth)
        assert_error(r, 400, "INVALID_FILTER")
        assert_error(await client.get("/api/v1/users?fields=secret", headers=auth), 400, "INVALID_FIELDS")
        plain = {"Authorization": f"Bearer {await user_token(client)}"}
        assert_error(await client.get("/api/v1/users", headers=plain), 403, "FORBIDDEN")
