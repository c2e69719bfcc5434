"""Contract: every route's responses, errors included, follow the REST envelope of CONTRACTS.md.

The routes come from the gateway's merged OpenAPI document, so a new route is covered the moment
it is published; and the gateway serves exactly what it publishes (inventory, OWASP API9).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import httpx

from parovoz.runtime.embedded import EmbeddedPlatform
from tests.e2e.flows import new_user

CODE = re.compile(r"^[A-Z][A-Z0-9_]*$")
CAMEL = re.compile(r"^[a-z][a-zA-Z0-9]*$")
# 202: accepted jobs (data exports) and mails (password forgot)
ALLOWED = {200, 201, 202, 204, 304, 400, 401, 403, 404, 405, 409, 412, 413, 415, 422, 429, 500, 502, 503, 504}
# Standard documents that are not resources: RFC 7517 JWKS, the OpenAPI document, the docs page.
NOT_ENVELOPED = {"/api/v1/auth/jwks", "/api/v1/openapi.json", "/api/v1/docs"}


def check_envelope(path: str, r: httpx.Response) -> None:
    assert r.status_code in ALLOWED, (path, r.status_code)
    assert r.status_code != 500, (path, r.text)
    assert r.headers.get("x-request-id"), path
    if r.status_code in (204, 304):
        assert r.content == b"", path
        return
    if path in NOT_ENVELOPED and r.status_code < 400:
        return
    assert r.headers["content-type"].startswith("application/json"), (path, r.headers)
    body = r.json()
    if r.status_code >= 400:
        assert set(body) == {"errors"}, (path, body)
        assert body["errors"], path
        for item in body["errors"]:
            assert CODE.match(item["code"]), item
            assert isinstance(item["title"], str) and item["title"]
            assert isinstance(item["detail"], str) and item["detail"]
            # meta: what a client needs to act on the error (e.g. the captcha to render)
            assert set(item) <= {"code", "title", "detail", "source", "meta"}, item
        return
    assert "data" in body, (path, body)
    resources = body["data"] if isinstance(body["data"], list) else [body["data"]]
    for res in resources:
        assert set(res) <= {"id", "type", "attributes", "relationships", "links", "meta"}, res
        assert isinstance(res["id"], str) and isinstance(res["type"], str)
        for name in res.get("attributes", {}):
            assert CAMEL.match(name), (path, name)
    if isinstance(body["data"], list):
        assert set(body["meta"]) >= {"page", "perPage", "totalPages", "totalItems"}
        assert set(body["links"]) >= {"self", "first", "prev", "next", "last"}


def fill(path: str, user_id: str) -> list[str]:
    if "{" not in path:
        return [path]
    return [re.sub(r"\{[^}]+\}", value, path) for value in (user_id, str(uuid.uuid4()), "not-a-uuid")]


async def test_every_published_route_answers_in_the_envelope(
    gateway_client: Callable[..., httpx.AsyncClient], embedded_platform: EmbeddedPlatform
) -> None:
    async with gateway_client() as client:
        user = new_user()
        r = await client.post("/api/v1/auth/register", json=user)
        user_id = r.json()["data"]["id"]
        r = await client.post(
            "/api/v1/auth/login", json={"login": user["email"], "password": user["password"]}
        )
        token = r.json()["data"]["attributes"]["accessToken"]
        spec = (await client.get("/api/v1/openapi.json")).json()
        paths = {p: ops for p, ops in spec["paths"].items() if p.startswith("/api/v1/")}
        assert len(paths) >= 8, sorted(paths)
        bodies: list[tuple[bytes, str]] = [
            (b"", "application/json"),
            (b"{}", "application/json"),
            (b"{oops", "application/json"),
            (b'{"data": {"attributes": {"x": 1}}}', "application/json"),
            (b"a=b", "application/x-www-form-urlencoded"),
        ]
        calls = 0
        for template, operations in paths.items():
            for method in operations:
                if method not in {"get", "post", "put", "patch", "delete"}:
                    continue
                for path in fill(template, user_id):
                    for auth in ({}, {"Authorization": f"Bearer {token}"}):
                        if method in {"get", "delete"}:
                            r = await client.request(method, path, headers=auth)
                            check_envelope(path, r)
                            calls += 1
                            continue
                        for content, ctype in bodies:
                            headers = {**auth, "content-type": ctype}
                            r = await client.request(method, path, content=content, headers=headers)
                            check_envelope(path, r)
                            calls += 1
        assert calls > 50


async def test_gateway_serves_only_published_routes(gateway_client: Callable[..., httpx.AsyncClient]) -> None:
    async with gateway_client() as client:
        spec = (await client.get("/api/v1/openapi.json")).json()
        published = {p for p in spec["paths"] if p.startswith("/api/v1/")}
        for guess in (
            "/api/v1/auth/admin",
            "/api/v1/users/me/secrets",
            "/api/v1/internal",
            "/api/v1/auth/debug",
        ):
            assert guess not in published
            r = await client.get(guess)
            assert r.status_code in (404, 405), (guess, r.status_code)
            check_envelope(guess, r)
