"""Sign-in with VK ID, OK and Telegram end to end through the gateway: an embedded platform of
its own whose Auth talks to the VK ID and OK sandboxes over real HTTP and knows a Telegram bot.

The "front-end" that owns the registered redirect URI is the test: it follows the provider's
redirect to our callback route with the code, state (and VK's device_id)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from parovoz.runtime.embedded import EmbeddedPlatform
from parovoz.sandboxes import ok as ok_sandbox
from parovoz.sandboxes import vk_id as vk_sandbox
from tests.e2e.flows import new_user
from tests.e2e.platforms import platform_with
from tests.servers import ServedApp

BASE = "http://parovoz.test"
VK_REDIRECT = f"{BASE}/api/v1/auth/oauth/vk/callback"
OK_REDIRECT = f"{BASE}/api/v1/auth/oauth/ok/callback"
BOT_TOKEN = "7000001:sandbox-bot-token"
_addresses = itertools.count(10)


@pytest.fixture(scope="module")
def providers() -> Iterator[dict[str, ServedApp]]:
    vk = ServedApp(vk_sandbox.create_app(client_id="vk-e2e", redirect_uri=VK_REDIRECT))
    ok = ServedApp(
        ok_sandbox.create_app(
            client_id="ok-e2e", client_secret="ok-e2e-secret", public_key="OKE2E", redirect_uri=OK_REDIRECT
        )
    )
    with vk, ok:
        yield {"vk": vk, "ok": ok}


@pytest.fixture(scope="module")
async def platform(providers: dict[str, ServedApp]) -> AsyncIterator[EmbeddedPlatform]:
    env = {
        "PAROVOZ_AUTH_VK_CLIENT_ID": "vk-e2e",
        "PAROVOZ_AUTH_VK_REDIRECT_URI": VK_REDIRECT,
        "PAROVOZ_AUTH_VK_BASE_URL": providers["vk"].url,
        "PAROVOZ_AUTH_OK_CLIENT_ID": "ok-e2e",
        "PAROVOZ_AUTH_OK_CLIENT_SECRET": "ok-e2e-secret",
        "PAROVOZ_AUTH_OK_PUBLIC_KEY": "OKE2E",
        "PAROVOZ_AUTH_OK_REDIRECT_URI": OK_REDIRECT,
        "PAROVOZ_AUTH_OK_AUTH_URL": providers["ok"].url,
        "PAROVOZ_AUTH_OK_API_URL": providers["ok"].url,
        "PAROVOZ_AUTH_TELEGRAM_BOT_TOKEN": BOT_TOKEN,
    }
    async with platform_with(env) as platform:
        yield platform


@pytest.fixture
def client(platform: EmbeddedPlatform) -> httpx.AsyncClient:
    """A browser at the gateway (its own cookie jar and client address)."""
    ip = f"203.0.113.{next(_addresses) % 250}"
    transport = httpx.ASGITransport(app=platform.gateway, client=(ip, 40000))
    return httpx.AsyncClient(transport=transport, base_url=BASE, timeout=15)


def user_of(tokens: httpx.Response) -> str:
    access = tokens.json()["data"]["attributes"]["accessToken"]
    payload = access.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"]


def bearer(tokens: httpx.Response) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens.json()['data']['attributes']['accessToken']}"}


def error_code(response: httpx.Response) -> str:
    return response.json()["errors"][0]["code"]


async def approve(provider_url: str, person: str) -> str:
    """The provider's consent page: auto-approved for `person`; the redirect's path and query."""
    async with httpx.AsyncClient() as browser:
        r = await browser.get(f"{provider_url}&user={person}")
    assert r.status_code == 302, r.text
    location = urlsplit(r.headers["location"])
    assert f"{location.scheme}://{location.netloc}" == BASE
    return f"{location.path}?{location.query}"


async def start(client: httpx.AsyncClient, provider: str, *, accept: bool) -> str:
    query = "?acceptTerms=true" if accept else ""
    r = await client.get(f"/api/v1/auth/oauth/{provider}/authorize{query}")
    assert r.status_code == 302, r.text
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/api/v1/auth/oauth" in cookie
    return r.headers["location"]


async def oauth(
    client: httpx.AsyncClient, provider: str, person: str, *, accept: bool = False
) -> httpx.Response:
    back = await approve(await start(client, provider, accept=accept), person)
    return await client.get(back)


def replace_query(path: str, **changes: str) -> str:
    parts = urlsplit(path)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | changes
    return f"{parts.path}?{urlencode(query)}"


async def test_unknown_provider_is_404(client: httpx.AsyncClient) -> None:
    async with client:
        r = await client.get("/api/v1/auth/oauth/facebook/authorize")
        assert r.status_code == 404 and error_code(r) == "OAUTH_PROVIDER_NOT_FOUND"
        r = await client.get("/api/v1/auth/oauth/telegram/authorize")
        assert r.status_code == 404 and error_code(r) == "OAUTH_PROVIDER_NOT_FOUND"


async def test_authorize_redirects_with_state_pkce_and_exact_redirect(
    client: httpx.AsyncClient, providers: dict[str, ServedApp]
) -> None:
    async with client:
        location = await start(client, "vk", accept=False)
    parts = urlsplit(location)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert location.startswith(providers["vk"].url + "/authorize?")
    assert query["redirect_uri"] == VK_REDIRECT and query["client_id"] == "vk-e2e"
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert len(base64.urlsafe_b64decode(query["state"] + "==")) >= 16  # ≥ 128 random bits


async def wait_profile(client: httpx.AsyncClient, headers: dict[str, str]) -> dict:
    deadline = time.monotonic() + 20
    while True:
        r = await client.get("/api/v1/users/me", headers=headers)
        if r.status_code == 200:
            return r.json()["data"]["attributes"]
        assert r.status_code == 404 and time.monotonic() < deadline, r.text
        await asyncio.sleep(0.05)


async def test_vk_sign_up_then_sign_in_is_the_same_user(client: httpx.AsyncClient) -> None:
    person = f"vk-{uuid.uuid4().hex[:8]}"
    async with client:
        first = await oauth(client, "vk", person, accept=True)
        assert first.status_code == 200, first.text
        assert first.json()["data"]["type"] == "tokens"
        assert first.headers["cache-control"] == "no-store"
        assert (
            'pz_oauth_vk=""' in first.headers["set-cookie"]
            or "max-age=0" in first.headers["set-cookie"].lower()
        )
        user_id = user_of(first)

        again = await oauth(client, "vk", person)  # no consent needed: the user exists
        assert again.status_code == 200, again.text
        assert user_of(again) == user_id

        r = await client.get("/api/v1/auth/identities", headers=bearer(again))
        assert r.status_code == 200, r.text
        listed = r.json()
        assert [i["attributes"]["provider"] for i in listed["data"]] == ["vk"]
        assert listed["data"][0]["attributes"]["displayName"] == f"{person} Sandbox"
        assert listed["meta"]["passwordSet"] is False and listed["meta"]["totalItems"] == 1

        # the registered event reached Account: a profile with the placeholder address
        profile = await wait_profile(client, bearer(again))
        assert profile["email"].endswith(".invalid")
        # a password sign-in of a user without one is an ordinary wrong password
        r = await client.post(
            "/api/v1/auth/login", json={"login": profile["email"], "password": "whatever-123"}
        )
        assert r.status_code == 401 and error_code(r) == "INVALID_CREDENTIALS"
        r = await client.post(
            "/api/v1/auth/password/change",
            json={"currentPassword": "whatever-123", "newPassword": "brand-new-secret-7"},
            headers=bearer(again),
        )
        assert r.status_code == 409 and error_code(r) == "PASSWORD_NOT_SET"


async def test_new_user_needs_consent(client: httpx.AsyncClient) -> None:
    person = f"noconsent-{uuid.uuid4().hex[:8]}"
    async with client:
        for _ in range(2):  # the refusal created nothing: the second try is refused the same way
            r = await oauth(client, "ok", person)
            assert r.status_code == 422 and error_code(r) == "CONSENT_REQUIRED"
        r = await oauth(client, "ok", person, accept=True)
        assert r.status_code == 200, r.text


async def test_wrong_state_missing_or_foreign_cookie_are_refused(client: httpx.AsyncClient) -> None:
    person = f"state-{uuid.uuid4().hex[:8]}"
    async with client:
        back = await approve(await start(client, "vk", accept=True), person)

        r = await client.get(replace_query(back, state="A" * 43))
        assert r.status_code == 400 and error_code(r) == "INVALID_OAUTH_STATE"
        r = await client.get(replace_query(back, state=""))
        assert r.status_code == 400 and error_code(r) == "INVALID_OAUTH_STATE"

        nonce = client.cookies.get("pz_oauth_vk")
        client.cookies.clear()
        r = await client.get(back)  # no cookie: another browser
        assert r.status_code == 400 and error_code(r) == "INVALID_OAUTH_STATE"
        client.cookies.set("pz_oauth_vk", "forged-" + nonce, domain="parovoz.test", path="/api/v1/auth/oauth")
        r = await client.get(back)
        assert r.status_code == 400 and error_code(r) == "INVALID_OAUTH_STATE"

        # none of those spent the state or created anyone: sign-in without consent is still refused
        r = await oauth(client, "vk", person)
        assert r.status_code == 422 and error_code(r) == "CONSENT_REQUIRED"

        # the real browser with its cookie finishes; the state is then spent
        client.cookies.clear()
        client.cookies.set("pz_oauth_vk", nonce, domain="parovoz.test", path="/api/v1/auth/oauth")
        r = await client.get(back)
        assert r.status_code == 200, r.text
        r = await client.get(back)
        assert r.status_code == 400 and error_code(r) == "INVALID_OAUTH_STATE"


async def test_a_code_used_twice_is_refused_by_the_provider(client: httpx.AsyncClient) -> None:
    async with client:
        back = await approve(await start(client, "vk", accept=True), f"twice-{uuid.uuid4().hex[:8]}")
        assert (await client.get(back)).status_code == 200
        spent_code = parse_qs(urlsplit(back).query)["code"][0]
        fresh = await approve(await start(client, "vk", accept=True), "anyone")
        r = await client.get(replace_query(fresh, code=spent_code))
        assert r.status_code == 401 and error_code(r) == "OAUTH_EXCHANGE_FAILED"


async def test_a_verifier_not_matching_the_challenge_is_refused(client: httpx.AsyncClient) -> None:
    person = f"pkce-{uuid.uuid4().hex[:8]}"
    async with client:
        other = await start(client, "vk", accept=True)  # another authorization: its challenge
        mine = await start(client, "vk", accept=True)  # the browser's current one (cookie)
        other_challenge = parse_qs(urlsplit(other).query)["code_challenge"][0]
        mixed = urlsplit(mine)
        query = {k: v[0] for k, v in parse_qs(mixed.query).items()} | {"code_challenge": other_challenge}
        back = await approve(f"{mixed.scheme}://{mixed.netloc}{mixed.path}?{urlencode(query)}", person)
        r = await client.get(back)  # we send our verifier; the code is bound to the other challenge
        assert r.status_code == 401 and error_code(r) == "OAUTH_EXCHANGE_FAILED"
        r = await oauth(client, "vk", person)
        assert r.status_code == 422  # nobody was created


async def test_link_ok_to_a_password_account_then_sign_in_unlink(client: httpx.AsyncClient) -> None:
    person = f"ok-{uuid.uuid4().hex[:8]}"
    account = new_user()
    async with client:
        assert (await client.post("/api/v1/auth/register", json=account)).status_code == 201
        tokens = await client.post(
            "/api/v1/auth/login", json={"login": account["email"], "password": account["password"]}
        )
        user_id = user_of(tokens)

        r = await client.post("/api/v1/auth/oauth/ok/link")
        assert r.status_code == 401
        r = await client.post("/api/v1/auth/oauth/ok/link", headers=bearer(tokens))
        assert r.status_code == 200, r.text
        url = r.json()["data"]["attributes"]["authorizeUrl"]
        assert "pz_oauth_ok=" in r.headers["set-cookie"]
        r = await client.get(await approve(url, person))
        assert r.status_code == 200, r.text
        assert r.json()["data"]["type"] == "identities" and r.json()["data"]["id"] == "ok"

        signed_in = await oauth(client, "ok", person)
        assert signed_in.status_code == 200, signed_in.text
        assert user_of(signed_in) == user_id

        # the same OK account cannot be linked to somebody else
        other = new_user()
        assert (await client.post("/api/v1/auth/register", json=other)).status_code == 201
        other_tokens = await client.post(
            "/api/v1/auth/login", json={"login": other["email"], "password": other["password"]}
        )
        r = await client.post("/api/v1/auth/oauth/ok/link", headers=bearer(other_tokens))
        r = await client.get(await approve(r.json()["data"]["attributes"]["authorizeUrl"], person))
        assert r.status_code == 409 and error_code(r) == "IDENTITY_ALREADY_LINKED"

        r = await client.get("/api/v1/auth/identities", headers=bearer(tokens))
        assert [i["id"] for i in r.json()["data"]] == ["ok"] and r.json()["meta"]["passwordSet"] is True
        r = await client.delete("/api/v1/auth/identities/ok", headers=bearer(tokens))
        assert r.status_code == 204, r.text
        r = await client.delete("/api/v1/auth/identities/ok", headers=bearer(tokens))
        assert r.status_code == 404 and error_code(r) == "IDENTITY_NOT_FOUND"
        r = await client.get("/api/v1/auth/identities", headers=bearer(tokens))
        assert r.json()["data"] == []
        # unlinked: the OK account is a stranger again
        r = await oauth(client, "ok", person)
        assert r.status_code == 422 and error_code(r) == "CONSENT_REQUIRED"


def widget(person_id: int, *, age_s: int = 30, **extra: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "id": person_id,
        "first_name": "Тимофей",
        "username": f"timofey_{person_id}",
        "auth_date": int(time.time()) - age_s,
        **extra,
    }
    check = "\n".join(f"{k}={fields[k]}" for k in sorted(fields))
    secret = hashlib.sha256(BOT_TOKEN.encode()).digest()
    return {**fields, "hash": hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()}


async def test_telegram_sign_up_sign_in_and_refusals(client: httpx.AsyncClient) -> None:
    person = 5_000_000 + uuid.uuid4().int % 1_000_000
    async with client:
        payload = widget(person)
        r = await client.post("/api/v1/auth/telegram", json=payload)
        assert r.status_code == 422 and error_code(r) == "CONSENT_REQUIRED"
        # the refusal did not spend the payload
        first = await client.post("/api/v1/auth/telegram", json={**payload, "acceptTerms": True})
        assert first.status_code == 200, first.text
        user_id = user_of(first)

        r = await client.post("/api/v1/auth/telegram", json={**payload, "acceptTerms": True})
        assert r.status_code == 401 and error_code(r) == "TELEGRAM_AUTH_REPLAYED"

        again = await client.post("/api/v1/auth/telegram", json=widget(person, age_s=10))
        assert again.status_code == 200, again.text
        assert user_of(again) == user_id

        forged = {**widget(person, age_s=5), "first_name": "Злоумышленник"}
        r = await client.post("/api/v1/auth/telegram", json=forged)
        assert r.status_code == 401 and error_code(r) == "INVALID_TELEGRAM_AUTH"
        r = await client.post("/api/v1/auth/telegram", json=widget(person, age_s=2 * 86400))
        assert r.status_code == 401 and error_code(r) == "TELEGRAM_AUTH_EXPIRED"
        r = await client.post("/api/v1/auth/telegram", json=widget(person, age_s=-3600))
        assert r.status_code == 401 and error_code(r) == "TELEGRAM_AUTH_EXPIRED"
        r = await client.post("/api/v1/auth/telegram", json={"id": person, "hash": "zz"})
        assert r.status_code == 422 and error_code(r) == "VALIDATION_FAILED"

        r = await client.get("/api/v1/auth/identities", headers=bearer(again))
        assert [(i["id"], i["attributes"]["displayName"]) for i in r.json()["data"]] == [
            ("telegram", "Тимофей")
        ]


async def test_last_sign_in_method_cannot_be_removed(client: httpx.AsyncClient) -> None:
    person = f"last-{uuid.uuid4().hex[:8]}"
    async with client:
        tokens = await oauth(client, "vk", person, accept=True)
        assert tokens.status_code == 200, tokens.text
        r = await client.delete("/api/v1/auth/identities/vk", headers=bearer(tokens))
        assert r.status_code == 409 and error_code(r) == "LAST_SIGN_IN_METHOD"
        r = await client.get("/api/v1/auth/identities", headers=bearer(tokens))
        assert [i["id"] for i in r.json()["data"]] == ["vk"]

        # with Telegram linked (Bearer + widget data), VK can go
        telegram_id = 6_000_000 + uuid.uuid4().int % 1_000_000
        r = await client.post("/api/v1/auth/telegram", json=widget(telegram_id), headers=bearer(tokens))
        assert r.status_code == 200 and r.json()["data"]["type"] == "identities", r.text
        r = await client.delete("/api/v1/auth/identities/vk", headers=bearer(tokens))
        assert r.status_code == 204, r.text
        r = await client.delete("/api/v1/auth/identities/telegram", headers=bearer(tokens))
        assert r.status_code == 409 and error_code(r) == "LAST_SIGN_IN_METHOD"
        r = await client.delete("/api/v1/auth/identities/facebook", headers=bearer(tokens))
        assert r.status_code == 404 and error_code(r) == "OAUTH_PROVIDER_NOT_FOUND"
        signed_in = await client.post("/api/v1/auth/telegram", json=widget(telegram_id, age_s=3))
        assert user_of(signed_in) == user_of(tokens)
