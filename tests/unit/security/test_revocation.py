"""The revocation list of ended sessions (memory backend) and the verifier's check against it."""

from __future__ import annotations

import asyncio
import time

import pytest

from parovoz.chassis.errors import ApiError
from parovoz.chassis.security.revocation import MemoryRevocationList
from parovoz.chassis.security.tokens import JwksTokenVerifier, SigningKey, TokenIssuer, local_jwks_source


async def test_revoked_until_its_expiry_then_forgotten() -> None:
    revoked = MemoryRevocationList()
    now = time.time()
    await revoked.revoke(["s-1", "s-2"], now + 60)
    assert revoked.is_revoked("s-1") and revoked.is_revoked("s-2")
    assert not revoked.is_revoked("s-3")
    assert revoked.is_revoked("s-1", now + 59.9)
    assert not revoked.is_revoked("s-1", now + 60)
    assert revoked.is_revoked("s-1")  # asking about a later time forgets nothing
    # expired entries go when the list is pruned (which adding does every so often)
    assert revoked.prune(now + 60) == 2 and len(revoked) == 0


def test_an_entry_already_expired_is_not_kept() -> None:
    revoked = MemoryRevocationList()
    assert revoked.add(["s-1"], time.time() - 1) == 0
    assert not revoked.is_revoked("s-1") and len(revoked) == 0


def test_a_later_until_extends_an_earlier_one_never_shortens_it() -> None:
    revoked = MemoryRevocationList()
    now = 1_000.0
    assert revoked.add(["s-1"], now + 100, now) == 1
    assert revoked.add(["s-1"], now + 50, now) == 0  # a redelivered older event changes nothing
    assert revoked.is_revoked("s-1", now + 99)
    assert revoked.add(["s-1"], now + 200, now) == 1
    assert revoked.is_revoked("s-1", now + 199)


def test_prune_drops_only_the_expired() -> None:
    revoked = MemoryRevocationList()
    now = 1_000.0
    revoked.add(["old"], now + 10, now)
    revoked.add(["new"], now + 100, now)
    assert revoked.prune(now + 50) == 1
    assert len(revoked) == 1 and revoked.is_revoked("new", now + 50)


@pytest.fixture
def issuer() -> TokenIssuer:
    return TokenIssuer(SigningKey.generate())


async def test_the_verifier_refuses_a_token_of_an_ended_session(issuer: TokenIssuer) -> None:
    revoked = MemoryRevocationList()
    verifier = JwksTokenVerifier(local_jwks_source([issuer.signing_key]), revocations=revoked)
    await verifier.start()
    ended = issuer.issue("user-1", ["user"], "session-1", 900).token
    other = issuer.issue("user-1", ["user"], "session-2", 900).token
    assert verifier.verify(ended).session_id == "session-1"  # now in the verifier's cache

    await revoked.revoke(["session-1"], time.time() + 930)
    with pytest.raises(ApiError) as sync_refusal:
        verifier.verify(ended)
    with pytest.raises(ApiError) as async_refusal:
        await verifier.verify_async(ended)
    for caught in (sync_refusal, async_refusal):
        assert caught.value.status == 401 and caught.value.code == "INVALID_TOKEN"
        assert "session ended" in caught.value.headers["WWW-Authenticate"]
    # the user's other session is untouched
    assert verifier.verify(other).session_id == "session-2"
    assert (await verifier.verify_async(other)).session_id == "session-2"


async def test_a_token_without_a_session_is_not_affected(issuer: TokenIssuer) -> None:
    revoked = MemoryRevocationList()
    verifier = JwksTokenVerifier(local_jwks_source([issuer.signing_key]), revocations=revoked)
    await verifier.start()
    await revoked.revoke(["None", ""], time.time() + 60)
    assert verifier.verify(issuer.issue("svc", ["user"], None, 900).token).session_id is None


async def test_the_entry_expiring_lets_the_token_through_again(issuer: TokenIssuer) -> None:
    """After `until` the token is expired anyway in real life; the list itself must forget."""
    revoked = MemoryRevocationList()
    verifier = JwksTokenVerifier(local_jwks_source([issuer.signing_key]), revocations=revoked)
    await verifier.start()
    token = issuer.issue("user-1", ["user"], "session-1", 900).token
    revoked.add(["session-1"], time.time() + 0.2)
    with pytest.raises(ApiError):
        verifier.verify(token)
    await asyncio.sleep(0.25)
    assert verifier.verify(token).user_id == "user-1"
