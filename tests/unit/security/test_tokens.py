"""Issue and verify access tokens, including the attacks SECURITY.md lists (alg none, key confusion)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest

from parovoz.chassis.errors import ApiError
from parovoz.chassis.security.tokens import (
    JwksTokenVerifier,
    SigningKey,
    TokenIssuer,
    TokenVerifier,
    local_jwks_source,
)
from tests.unit.security.conftest import JwksSource, claims, sign


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def assert_invalid(verifier: JwksTokenVerifier, token: str) -> None:
    with pytest.raises(ApiError) as caught:
        verifier.verify(token)
    assert caught.value.status == 401
    assert caught.value.code == "INVALID_TOKEN"
    assert caught.value.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.fixture
async def verifier(key_a: SigningKey) -> JwksTokenVerifier:
    v = JwksTokenVerifier(JwksSource(key_a))
    await v.start()
    return v


async def test_issued_token_verifies(key_a: SigningKey, verifier: JwksTokenVerifier) -> None:
    issued = TokenIssuer(key_a).issue("user-7", ["user", "developer"], "sess-1", 900)
    principal = verifier.verify(issued.token)
    assert principal.user_id == "user-7"
    assert principal.roles == frozenset({"user", "developer"})
    assert principal.session_id == "sess-1"
    assert principal.token_id == issued.token_id
    assert principal.expires_at == issued.expires_at
    assert isinstance(verifier, TokenVerifier)
    header = jwt.get_unverified_header(issued.token)
    assert header["kid"] == key_a.kid and header["alg"] == "RS256"
    # PyJWT agrees with our verifier on what we issue.
    decoded = jwt.decode(
        issued.token,
        key_a.private_key.public_key(),
        algorithms=["RS256"],
        audience="parovoz",
        issuer="parovoz-auth",
    )
    assert decoded["jti"] == issued.token_id and decoded["sid"] == "sess-1"


async def test_session_id_may_be_absent(key_a: SigningKey, verifier: JwksTokenVerifier) -> None:
    issued = TokenIssuer(key_a).issue("user-8", [], None, 60)
    principal = verifier.verify(issued.token)
    assert principal.session_id is None and principal.roles == frozenset()


async def test_verify_without_cache_gives_the_same_principal(key_a: SigningKey) -> None:
    v = JwksTokenVerifier(local_jwks_source([key_a]), cache_size=0)
    await v.start()
    token = TokenIssuer(key_a).issue("u", ["user"], "s", 60).token
    assert v.verify(token) == v.verify(token)
    assert_invalid(v, token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"))


async def test_expired_token_is_refused(key_a: SigningKey, verifier: JwksTokenVerifier) -> None:
    now = int(time.time())
    assert_invalid(verifier, sign(key_a, claims(iat=now - 700, nbf=now - 700, exp=now - 100)))


async def test_leeway_tolerates_small_clock_skew(key_a: SigningKey, verifier: JwksTokenVerifier) -> None:
    now = int(time.time())
    assert verifier.verify(sign(key_a, claims(exp=now - 10, iat=now + 10))).user_id == "user-1"


async def test_not_yet_valid_token_is_refused(key_a: SigningKey, verifier: JwksTokenVerifier) -> None:
    now = int(time.time())
    assert_invalid(verifier, sign(key_a, claims(nbf=now + 120, exp=now + 900)))
    assert_invalid(verifier, sign(key_a, claims(iat=now + 120, nbf=None, exp=now + 900)))


@pytest.mark.parametrize(
    ("claim", "value"),
    [("iss", "someone-else"), ("aud", "other-audience"), ("aud", ["a", "b"]), ("exp", "tomorrow")],
)
async def test_wrong_claim_values_are_refused(
    key_a: SigningKey, verifier: JwksTokenVerifier, claim: str, value: object
) -> None:
    assert_invalid(verifier, sign(key_a, claims(**{claim: value})))


async def test_audience_list_containing_ours_is_accepted(
    key_a: SigningKey, verifier: JwksTokenVerifier
) -> None:
    assert verifier.verify(sign(key_a, claims(aud=["billing", "parovoz"]))).user_id == "user-1"


@pytest.mark.parametrize("missing", ["sub", "jti", "exp", "iat", "iss", "aud"])
async def test_missing_claims_are_refused(
    key_a: SigningKey, verifier: JwksTokenVerifier, missing: str
) -> None:
    assert_invalid(verifier, sign(key_a, claims(**{missing: None})))


@pytest.mark.parametrize("bad", [{"roles": "admin"}, {"roles": [1]}, {"sub": ""}, {"sid": 5}])
async def test_malformed_claims_are_refused(
    key_a: SigningKey, verifier: JwksTokenVerifier, bad: dict[str, object]
) -> None:
    assert_invalid(verifier, sign(key_a, claims(**bad)))


async def test_tampered_payload_is_refused(key_a: SigningKey, verifier: JwksTokenVerifier) -> None:
    header, _payload, signature = sign(key_a, claims()).split(".")
    forged = b64(json.dumps(claims(roles=["admin"])).encode())
    assert_invalid(verifier, f"{header}.{forged}.{signature}")


async def test_tampered_signature_is_refused(key_a: SigningKey, verifier: JwksTokenVerifier) -> None:
    token = sign(key_a, claims())
    header, payload, signature = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=="))
    raw[10] ^= 0x01
    assert_invalid(verifier, f"{header}.{payload}.{b64(bytes(raw))}")
    assert_invalid(verifier, token + "=")  # padding: not the canonical encoding
    assert_invalid(verifier, f"{header}.{payload}.{signature[:-1]}!")
    assert_invalid(verifier, f"{header}.{payload}")
    assert_invalid(verifier, "not-a-token")


async def test_token_signed_by_another_key_under_our_kid_is_refused(
    key_a: SigningKey, key_b: SigningKey, verifier: JwksTokenVerifier
) -> None:
    forged = jwt.encode(claims(), key_b.private_key, algorithm="RS256", headers={"kid": key_a.kid})
    assert_invalid(verifier, forged)


async def test_alg_none_is_refused(key_a: SigningKey, verifier: JwksTokenVerifier) -> None:
    header = b64(json.dumps({"alg": "none", "typ": "JWT", "kid": key_a.kid}).encode())
    payload = b64(json.dumps(claims(roles=["admin"])).encode())
    assert_invalid(verifier, f"{header}.{payload}.")
    assert_invalid(verifier, f"{header}.{payload}.{b64(b'x')}")


async def test_hs256_with_the_public_key_as_secret_is_refused(
    key_a: SigningKey, verifier: JwksTokenVerifier
) -> None:
    """Key confusion: an attacker HMACs with the (public) PEM, hoping the verifier does the same."""
    secret = key_a.public_pem()
    payload = b64(json.dumps(claims(roles=["admin"])).encode())
    for alg in ("HS256", "RS256"):
        header = b64(json.dumps({"alg": alg, "typ": "JWT", "kid": key_a.kid}).encode())
        signature = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        assert_invalid(verifier, f"{header}.{payload}.{b64(signature)}")


async def test_crit_header_is_refused(key_a: SigningKey, verifier: JwksTokenVerifier) -> None:
    assert_invalid(verifier, sign(key_a, claims(), crit=["exp"]))


async def test_rotation_unknown_kid_refreshes_then_removed_key_is_refused(
    key_a: SigningKey, key_b: SigningKey
) -> None:
    source = JwksSource(key_a)
    verifier = JwksTokenVerifier(source, min_refresh_gap=0)
    await verifier.start()
    old_token = TokenIssuer(key_a).issue("u", ["user"], "s", 600).token
    assert verifier.verify(old_token).user_id == "u"  # now in the recent-token cache too

    new_token = TokenIssuer(key_b).issue("u", ["user"], "s", 600).token
    source.keys = [key_a, key_b]  # auth rotates: publishes B next to A
    assert (await verifier.verify_async(new_token)).user_id == "u"
    assert verifier.key_ids == {key_a.kid, key_b.kid}
    assert source.fetches == 2

    source.keys = [key_b]  # A retired
    await verifier.refresh()
    assert_invalid(verifier, old_token)
    with pytest.raises(ApiError):
        await verifier.verify_async(old_token)
    assert verifier.verify(new_token).user_id == "u"
    await verifier.close()


async def test_sync_verify_of_unknown_kid_schedules_a_background_refresh(
    key_a: SigningKey, key_b: SigningKey
) -> None:
    source = JwksSource(key_a)
    verifier = JwksTokenVerifier(source, min_refresh_gap=0)
    await verifier.start()
    token = TokenIssuer(key_b).issue("u", [], None, 600).token
    source.keys = [key_a, key_b]
    assert_invalid(verifier, token)
    for _ in range(50):
        await asyncio.sleep(0.01)
        if key_b.kid in verifier.key_ids:
            break
    assert verifier.verify(token).user_id == "u"
    await verifier.close()


async def test_flood_of_unknown_kids_fetches_once_per_gap(
    key_a: SigningKey, key_b: SigningKey, key_c: SigningKey
) -> None:
    source = JwksSource(key_a)
    verifier = JwksTokenVerifier(source, min_refresh_gap=0.3)
    await verifier.start()
    await asyncio.sleep(0.31)  # let the gap after start() pass
    bogus = [
        jwt.encode(claims(), key_c.private_key, algorithm="RS256", headers={"kid": f"bogus-{i}"})
        for i in range(100)
    ]
    results = await asyncio.gather(*(verifier.verify_async(t) for t in bogus), return_exceptions=True)
    assert all(isinstance(r, ApiError) and r.status == 401 for r in results)
    assert source.fetches == 2  # start + one refresh, not 100

    for token in bogus[:10]:  # still within the gap: no new fetch
        with pytest.raises(ApiError):
            await verifier.verify_async(token)
    assert source.fetches == 2

    await asyncio.sleep(0.31)
    source.keys = [key_a, key_b]
    token_b = TokenIssuer(key_b).issue("u", [], None, 600).token
    assert (await verifier.verify_async(token_b)).user_id == "u"
    assert source.fetches == 3
    await verifier.close()


async def test_start_tolerates_an_unavailable_source(key_a: SigningKey) -> None:
    source = JwksSource(key_a)
    source.failing = True
    verifier = JwksTokenVerifier(source, min_refresh_gap=0.05)
    await verifier.start()
    assert not verifier.keys_loaded
    token = TokenIssuer(key_a).issue("u", [], None, 600).token
    assert_invalid(verifier, token)

    source.failing = False
    await asyncio.sleep(0.06)
    assert (await verifier.verify_async(token)).user_id == "u"
    assert verifier.keys_loaded
    await verifier.close()


async def test_refresh_keeps_keys_when_the_source_serves_no_usable_key(key_a: SigningKey) -> None:
    source = JwksSource(key_a)
    verifier = JwksTokenVerifier(source)
    await verifier.start()
    source.keys = []
    with pytest.raises(ValueError, match="no usable"):
        await verifier.refresh()
    source.failing = True
    with pytest.raises(ConnectionError):
        await verifier.refresh()
    assert verifier.key_ids == {key_a.kid}
    assert verifier.verify(TokenIssuer(key_a).issue("u", [], None, 60).token).user_id == "u"


async def test_jwks_entries_for_other_algorithms_are_ignored(key_a: SigningKey, key_b: SigningKey) -> None:
    async def fetch() -> dict[str, object]:
        hs_entry = {"kty": "oct", "kid": "hmac", "k": b64(b"secret"), "alg": "HS256"}
        wrong_alg = {**key_b.public_jwk(), "alg": "RS512"}
        return {"keys": [hs_entry, wrong_alg, key_a.public_jwk(), {"kty": "RSA"}]}

    verifier = JwksTokenVerifier(fetch)
    await verifier.start()
    assert verifier.key_ids == {key_a.kid}


async def test_cached_token_stops_verifying_when_it_expires(key_a: SigningKey) -> None:
    verifier = JwksTokenVerifier(local_jwks_source([key_a]), leeway=0)
    await verifier.start()
    issued = TokenIssuer(key_a).issue("u", [], None, 2)
    assert verifier.verify(issued.token).user_id == "u"
    await asyncio.sleep(max(0.0, issued.expires_at.timestamp() - time.time()) + 0.05)
    assert_invalid(verifier, issued.token)


async def test_oversized_token_is_refused_before_any_parsing(
    key_a: SigningKey, verifier: JwksTokenVerifier
) -> None:
    assert_invalid(verifier, sign(key_a, claims(padding="x" * 9000)))
