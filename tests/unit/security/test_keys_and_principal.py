from __future__ import annotations

from datetime import UTC, datetime

from parovoz.chassis.security import roles
from parovoz.chassis.security.keys import jwk_thumbprint
from parovoz.chassis.security.tokens import Principal, SigningKey, jwks

# RFC 7638 section 3.1: the example key and its thumbprint.
RFC7638_N = (
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXj"
    "BZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8"
    "KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_x"
    "BniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
)


def test_thumbprint_matches_rfc7638_example() -> None:
    assert jwk_thumbprint(RFC7638_N, "AQAB") == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_pem_round_trip_keeps_the_kid(key_a: SigningKey) -> None:
    again = SigningKey.from_pem(key_a.to_pem())
    assert again.kid == key_a.kid
    assert again.public_jwk() == key_a.public_jwk()
    assert key_a.private_key.key_size == 2048


def test_public_jwk_and_jwks_hold_no_private_members(key_a: SigningKey, key_b: SigningKey) -> None:
    jwk = key_a.public_jwk()
    assert jwk["kty"] == "RSA" and jwk["alg"] == "RS256" and jwk["use"] == "sig"
    assert jwk["kid"] == jwk_thumbprint(jwk["n"], jwk["e"])
    document = jwks([key_a, key_b])
    assert [k["kid"] for k in document["keys"]] == [key_a.kid, key_b.kid]
    assert all(not {"d", "p", "q", "dp", "dq", "qi"} & set(k) for k in document["keys"])


def test_different_keys_have_different_kids(key_a: SigningKey, key_b: SigningKey) -> None:
    assert key_a.kid != key_b.kid


def test_principal_roles() -> None:
    expires = datetime.now(UTC)
    developer = Principal("u", frozenset({roles.USER, roles.DEVELOPER}), None, "t", expires)
    support = Principal("s", frozenset({roles.SUPPORT}), "sid", "t2", expires)
    assert developer.has_any_role(roles.DEVELOPER, roles.ADMIN)
    assert not developer.has_any_role(roles.ADMIN)
    assert not developer.is_staff
    assert support.is_staff
    assert roles.STAFF == {"moderator", "support", "finance", "admin"}
    assert roles.STAFF < roles.ALL_ROLES
