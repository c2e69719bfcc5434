"""Service tokens: their claims, their verification, and that they never pass for user tokens (nor
user tokens for them)."""

from __future__ import annotations

import time

import jwt
import pytest

from parovoz.chassis.errors import ApiError
from parovoz.chassis.security import jws
from parovoz.chassis.security.service_tokens import (
    SERVICE_AUDIENCE,
    ServiceTokenVerifier,
    issue_service_token,
)
from parovoz.chassis.security.tokens import JwksTokenVerifier, SigningKey, TokenIssuer
from tests.unit.security.conftest import JwksSource, claims, sign


def test_claims_of_a_service_token(key_a: SigningKey) -> None:
    issued = issue_service_token(key_a, "account", ttl_seconds=600)
    decoded = jwt.decode(
        issued.token, key_a.private_key.public_key(), algorithms=["RS256"], audience=SERVICE_AUDIENCE
    )
    assert jwt.get_unverified_header(issued.token)["kid"] == key_a.kid
    assert decoded["iss"] == "parovoz-auth"
    assert decoded["sub"] == "service:account"
    assert decoded["token_use"] == "service"
    assert decoded["jti"] == issued.token_id
    assert decoded["exp"] - decoded["iat"] == 600
    assert issued.expires_at.timestamp() == decoded["exp"]
    assert "roles" not in decoded and "sid" not in decoded


@pytest.mark.parametrize("name", ["", "Account", "a b", "service:x", "x" * 40, "1abc"])
def test_only_service_names_get_tokens(key_a: SigningKey, name: str) -> None:
    with pytest.raises(ValueError):
        issue_service_token(key_a, name)


async def test_verifier_accepts_a_service_token(key_a: SigningKey) -> None:
    verifier = ServiceTokenVerifier(JwksTokenVerifier(JwksSource(key_a)))
    identity = await verifier.verify_async(issue_service_token(key_a, "account").token)
    assert identity.name == "account" and identity.token_id


async def test_a_user_access_token_is_not_a_service_token(key_a: SigningKey) -> None:
    verifier = ServiceTokenVerifier(JwksTokenVerifier(JwksSource(key_a)))
    user_token = TokenIssuer(key_a).issue("user-1", ["admin"], "s-1", 600).token
    with pytest.raises(ApiError) as caught:
        await verifier.verify_async(user_token)
    assert (caught.value.status, caught.value.code) == (401, "SERVICE_TOKEN_INVALID")
    # even one carrying the services' audience among its own, without `token_use`
    mixed = sign(key_a, claims(aud=["parovoz", SERVICE_AUDIENCE]))
    with pytest.raises(ApiError):
        await verifier.verify_async(mixed)


async def test_a_service_token_is_not_a_user_access_token(key_a: SigningKey) -> None:
    users = JwksTokenVerifier(JwksSource(key_a))
    with pytest.raises(ApiError) as caught:
        await users.verify_async(issue_service_token(key_a, "account").token)
    assert caught.value.code == "INVALID_TOKEN"
    # the `token_use` check stands even when the audience would pass
    crafted = sign(key_a, claims(sub="service:account", token_use="service"))
    with pytest.raises(ApiError):
        await users.verify_async(crafted)
    assert (await users.verify_async(sign(key_a, claims()))).user_id == "user-1"


async def test_expired_and_foreign_tokens_are_refused(key_a: SigningKey, key_b: SigningKey) -> None:
    source = JwksSource(key_a)
    verifier = ServiceTokenVerifier(JwksTokenVerifier(source))
    for token in (
        issue_service_token(key_a, "account", now=time.time() - 700).token,  # beyond the 30 s leeway
        issue_service_token(key_b, "account").token,  # a key Auth never published
    ):
        with pytest.raises(ApiError):
            await verifier.verify_async(token)


async def test_verified_tokens_are_cached_until_their_key_goes(
    key_a: SigningKey, key_b: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = JwksSource(key_a, key_b)
    keys = JwksTokenVerifier(source, min_refresh_gap=0)
    verifier = ServiceTokenVerifier(keys)
    token = issue_service_token(key_a, "account").token
    checks = 0
    real = jws.verify_signature

    def counting(*args: object) -> None:
        nonlocal checks
        checks += 1
        real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(jws, "verify_signature", counting)
    for _ in range(5):
        assert (await verifier.verify_async(token)).name == "account"
    assert checks == 1  # one signature check, then the cache

    source.keys = [key_b]  # key_a rotated out and no longer published
    await keys.refresh()
    with pytest.raises(ApiError):
        verifier.verify(token)


async def test_an_unknown_kid_refreshes_the_shared_keys_once(key_a: SigningKey, key_b: SigningKey) -> None:
    source = JwksSource(key_a)
    keys = JwksTokenVerifier(source, min_refresh_gap=0)
    await keys.refresh()
    verifier = ServiceTokenVerifier(keys)
    source.keys = [key_a, key_b]  # Auth rotated to key_b
    fetches = source.fetches
    assert (await verifier.verify_async(issue_service_token(key_b, "account").token)).name == "account"
    assert source.fetches == fetches + 1
