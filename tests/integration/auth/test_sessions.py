"""Sign-in, refresh-token rotation and reuse, sign-out, JWKS, against a real database."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from parovoz.chassis.security.tokens import JwksTokenVerifier
from tests.integration.auth.conftest import AuthHarness, BuildAuth, attributes, error_codes


async def _signed_in(auth: AuthHarness) -> dict:
    assert (await auth.register("ann@example.com", "ann")).status_code == 201
    response = await auth.login(
        "ann@example.com", **{"User-Agent": "pytest/1", "X-Original-IP": "198.51.100.7"}
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def test_login_answers_a_token_pair_that_verifies_with_the_jwks(auth: AuthHarness) -> None:
    data = await _signed_in(auth)
    attrs = data["attributes"]
    assert data["type"] == "tokens"
    assert attrs["tokenType"] == "Bearer"
    assert (attrs["expiresIn"], attrs["refreshExpiresIn"]) == (900, 30 * 24 * 3600)
    assert len(attrs["refreshToken"]) >= 43  # 256 bits, base64url

    jwks = await auth.client.get("/api/v1/auth/jwks")
    assert jwks.status_code == 200 and jwks.headers["cache-control"] == "public, max-age=300"
    keys = jwks.json()["keys"]
    assert len(keys) == 1 and keys[0]["alg"] == "RS256" and "d" not in keys[0]

    async def fetch() -> dict:
        return jwks.json()

    principal = await JwksTokenVerifier(fetch).verify_async(attrs["accessToken"])
    again = (await auth.client.get("/api/v1/auth/jwks")).json()
    assert again == jwks.json()  # one stored key, the same document every time
    assert principal.session_id == data["id"]
    assert principal.roles == frozenset({"user"})

    async with auth.db.connect() as conn:
        session = (await conn.execute(sa.text("SELECT user_id, user_agent, client_ip FROM sessions"))).one()
        hashes = (await conn.execute(sa.text("SELECT token_hash FROM refresh_tokens"))).scalars().all()
    assert principal.user_id == str(session.user_id)
    assert (session.user_agent, session.client_ip) == ("pytest/1", "198.51.100.7")
    assert len(hashes) == 1 and attrs["refreshToken"].encode() not in hashes[0]


async def test_login_by_username_in_any_case(auth: AuthHarness) -> None:
    await auth.register("bob@example.com", "Bob.Builder")
    assert (await auth.login("bob.builder")).status_code == 200
    assert (await auth.login("BOB@example.com")).status_code == 200


async def test_wrong_password_and_unknown_user_get_the_same_answer(auth: AuthHarness) -> None:
    await auth.register("ann@example.com", "ann")
    wrong = await auth.login("ann", "not-the-password")
    unknown = await auth.login("nobody@example.com", "not-the-password")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert error_codes(wrong) == ["INVALID_CREDENTIALS"]


async def test_blocked_user_cannot_sign_in(auth: AuthHarness) -> None:
    await auth.register("ann@example.com", "ann")
    async with auth.db.transaction() as uow:
        await uow.conn.execute(sa.text("UPDATE users SET status = 'blocked'"))
    blocked = await auth.login("ann")
    assert blocked.status_code == 403 and error_codes(blocked) == ["ACCOUNT_BLOCKED"]
    assert (await auth.login("ann", "wrong-password")).status_code == 401


async def test_refresh_rotates_and_reuse_kills_the_session(auth: AuthHarness) -> None:
    first = await _signed_in(auth)
    rotated = await auth.refresh(first["attributes"]["refreshToken"])
    assert rotated.status_code == 200, rotated.text
    assert rotated.headers["cache-control"] == "no-store"
    second = rotated.json()["data"]
    assert second["id"] == first["id"]
    assert second["attributes"]["refreshToken"] != first["attributes"]["refreshToken"]

    reused = await auth.refresh(first["attributes"]["refreshToken"])
    assert reused.status_code == 401 and error_codes(reused) == ["REFRESH_TOKEN_REUSED"]
    dead = await auth.refresh(second["attributes"]["refreshToken"])
    assert dead.status_code == 401 and error_codes(dead) == ["INVALID_REFRESH_TOKEN"]
    async with auth.db.connect() as conn:
        reason = (await conn.execute(sa.text("SELECT revoked_reason FROM sessions"))).scalar_one()
    assert reason == "refresh_token_reused"


async def test_concurrent_refreshes_with_one_token_have_one_winner(auth: AuthHarness) -> None:
    token = (await _signed_in(auth))["attributes"]["refreshToken"]
    responses = await asyncio.gather(*(auth.refresh(token) for _ in range(3)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 401, 401]
    losers = [error_codes(r)[0] for r in responses if r.status_code == 401]
    # the first loser sees a used token (reuse → session revoked); later ones may see it revoked
    assert "REFRESH_TOKEN_REUSED" in losers
    winner = next(r for r in responses if r.status_code == 200)
    assert (await auth.refresh(attributes(winner)["refreshToken"])).status_code == 401


async def test_unknown_and_expired_refresh_tokens(build_auth: BuildAuth) -> None:
    auth = await build_auth({"AUTH_REFRESH_TTL": "1"})
    data = await _signed_in(auth)
    unknown = await auth.refresh("A" * 43)
    assert unknown.status_code == 401 and error_codes(unknown) == ["INVALID_REFRESH_TOKEN"]
    await asyncio.sleep(1.1)
    expired = await auth.refresh(data["attributes"]["refreshToken"])
    assert expired.status_code == 401 and error_codes(expired) == ["INVALID_REFRESH_TOKEN"]


async def test_logout_revokes_the_session_idempotently(auth: AuthHarness) -> None:
    token = (await _signed_in(auth))["attributes"]["refreshToken"]
    for _ in range(2):
        response = await auth.client.post("/api/v1/auth/logout", json={"refreshToken": token})
        assert response.status_code == 204 and response.content == b""
    assert (await auth.refresh(token)).status_code == 401
    unknown = await auth.client.post("/api/v1/auth/logout", json={"refreshToken": "nope"})
    assert unknown.status_code == 401 and error_codes(unknown) == ["INVALID_REFRESH_TOKEN"]
    wrong_type = await auth.client.post("/api/v1/auth/logout", json={"refreshToken": 5})
    assert wrong_type.status_code == 422


async def test_signing_key_is_created_once_by_racing_replicas(build_auth: BuildAuth) -> None:
    replicas = [await build_auth(start=False) for _ in range(4)]
    await asyncio.gather(*(r.ctx.extras["auth"].keyring.ensure() for r in replicas))
    assert await replicas[0].count("signing_keys") == 1
    kids = {(await r.ctx.extras["auth"].keyring.current()).kid for r in replicas}
    assert len(kids) == 1


async def test_a_replica_that_missed_on_start_still_signs(build_auth: BuildAuth) -> None:
    auth = await build_auth(start=False)
    assert (await auth.register("ann@example.com", "ann")).status_code == 201
    assert (await auth.login("ann")).status_code == 200
    assert await auth.count("signing_keys") == 1


async def test_openapi_documents_every_route_with_its_body(auth: AuthHarness) -> None:
    paths = (await auth.client.get("/openapi.json")).json()["paths"]
    for route in ("register", "login", "refresh-token", "logout"):
        operation = paths[f"/api/v1/auth/{route}"]["post"]
        assert "requestBody" in operation, route
    assert "get" in paths["/api/v1/auth/jwks"]
