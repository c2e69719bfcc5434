import httpx

from tests.unit.rest.conftest import FakeVerifier


async def test_missing_token_is_unauthorized(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] == "UNAUTHORIZED"
    assert response.headers["www-authenticate"] == "Bearer"


async def test_malformed_header_and_bad_token_are_invalid_token(client: httpx.AsyncClient) -> None:
    for header in ("Basic dXNlcjpwdw==", "Bearer", "Bearer two tokens", "token-only", "Bearer " + "a" * 9000):
        response = await client.get("/api/v1/me", headers={"authorization": header})
        assert response.status_code == 401, header
        assert response.json()["errors"][0]["code"] == "INVALID_TOKEN"
    rejected = await client.get("/api/v1/me", headers={"authorization": "Bearer forged"})
    assert rejected.status_code == 401
    assert rejected.json()["errors"][0]["code"] == "INVALID_TOKEN"


async def test_valid_token_gives_the_principal(client: httpx.AsyncClient, verifier: FakeVerifier) -> None:
    response = await client.get("/api/v1/me", headers={"authorization": "bearer user.u1.user"})
    assert response.status_code == 200
    assert response.json() == {"userId": "u1"}
    assert verifier.calls == 1


async def test_optional_principal_verifies_once_per_request(
    client: httpx.AsyncClient, verifier: FakeVerifier
) -> None:
    anonymous = await client.get("/api/v1/maybe-me")
    assert anonymous.json() == {"userId": None, "same": True}
    known = await client.get("/api/v1/maybe-me", headers={"authorization": "Bearer user.u2."})
    assert known.json() == {"userId": "u2", "same": True}
    assert verifier.calls == 1
    bad = await client.get("/api/v1/maybe-me", headers={"authorization": "Bearer nope"})
    assert bad.status_code == 401


async def test_require_roles(client: httpx.AsyncClient) -> None:
    user = await client.get("/api/v1/admin", headers={"authorization": "Bearer user.u1.user~developer"})
    assert user.status_code == 403
    assert user.json()["errors"][0]["code"] == "FORBIDDEN"
    support = await client.get("/api/v1/admin", headers={"authorization": "Bearer user.u3.support"})
    assert support.status_code == 200
    anonymous = await client.get("/api/v1/admin")
    assert anonymous.status_code == 401


async def test_client_ip_prefers_a_valid_original_ip(client: httpx.AsyncClient) -> None:
    forwarded = await client.get("/api/v1/ip", headers={"x-original-ip": "203.0.113.9"})
    assert forwarded.json() == {"ip": "203.0.113.9"}
    spoofed = await client.get("/api/v1/ip", headers={"x-original-ip": "evil<script>"})
    assert spoofed.json() == {"ip": "127.0.0.1"}  # httpx.ASGITransport's peer address
