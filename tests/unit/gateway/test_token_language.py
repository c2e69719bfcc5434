"""The access token's `lang` claim: the verifier reads it, the gateway sends it on as
Accept-Language when the client sent none (never over the client's own choice)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import jwt

from parovoz.chassis.security.tokens import JwksTokenVerifier, TokenIssuer
from parovoz.gateway import Gateway
from tests.unit.gateway.conftest import header_values

MakeGateway = Callable[..., Gateway]


def _client(gateway: Gateway) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway), base_url="http://gw")


def test_the_claim_is_issued_and_read(issuer: TokenIssuer, verifier: JwksTokenVerifier) -> None:
    token = issuer.issue("u1", ["user"], "s1", 300, language="en").token
    assert jwt.decode(token, options={"verify_signature": False})["lang"] == "en"
    without = issuer.issue("u1", ["user"], "s1", 300).token
    assert "lang" not in jwt.decode(without, options={"verify_signature": False})


async def test_verifier_keeps_only_languages_we_serve(
    issuer: TokenIssuer, verifier: JwksTokenVerifier
) -> None:
    assert (
        await verifier.verify_async(issuer.issue("u", [], "s", 300, language="en").token)
    ).language == "en"
    assert (
        await verifier.verify_async(issuer.issue("u", [], "s", 300, language="de").token)
    ).language is None
    assert (await verifier.verify_async(issuer.issue("u", [], "s", 300).token)).language is None


async def test_gateway_adds_the_users_language_only_when_the_client_sent_none(
    make_gateway: MakeGateway, issuer: TokenIssuer
) -> None:
    english = {"Authorization": f"Bearer {issuer.issue('u', ['user'], 's', 300, language='en').token}"}
    async with _client(make_gateway()) as c:
        echo = (await c.get("/api/v1/users/me", headers=english)).json()
        assert header_values(echo, "accept-language") == ["en"]
        echo = (await c.get("/api/v1/users/me", headers={**english, "Accept-Language": "ru"})).json()
        assert header_values(echo, "accept-language") == ["ru"]
        plain = {"Authorization": f"Bearer {issuer.issue('u', ['user'], 's', 300).token}"}
        echo = (await c.get("/api/v1/users/me", headers=plain)).json()
        assert header_values(echo, "accept-language") == []
