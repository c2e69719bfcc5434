"""The VK ID and OK adapters against their sandboxes over real HTTP: the providers' protocols
(PKCE S256, device_id, single-use codes, OK's md5 sig) and validation of their answers."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from parovoz.chassis.errors import ApiError
from parovoz.sandboxes import ok as ok_sandbox
from parovoz.sandboxes import vk_id as vk_sandbox
from parovoz.services.auth.domain.external import pkce_challenge, pkce_verifier, random_token
from parovoz.services.auth.oauth.ok import OkClient
from parovoz.services.auth.oauth.vk import VkIdClient
from tests.infra import free_port
from tests.servers import ServedApp

VK_REDIRECT = "https://parovoz.test/auth/vk/callback"
OK_REDIRECT = "https://parovoz.test/auth/ok/callback"


@pytest.fixture(scope="module")
def vk_server() -> Iterator[ServedApp]:
    with ServedApp(vk_sandbox.create_app(client_id="vk-app", redirect_uri=VK_REDIRECT)) as served:
        yield served


@pytest.fixture(scope="module")
def ok_server() -> Iterator[ServedApp]:
    app = ok_sandbox.create_app(
        client_id="ok-app", client_secret="ok-secret", public_key="OKPUBLIC", redirect_uri=OK_REDIRECT
    )
    with ServedApp(app) as served:
        yield served


def vk_client(base_url: str) -> VkIdClient:
    return VkIdClient(client_id="vk-app", redirect_uri=VK_REDIRECT, base_url=base_url)


def ok_client(url: str, secret: str = "ok-secret") -> OkClient:
    return OkClient(
        client_id="ok-app",
        client_secret=secret,
        public_key="OKPUBLIC",
        redirect_uri=OK_REDIRECT,
        auth_url=url,
        api_url=url,
    )


async def approve(authorize_url: str, user: str = "ivan") -> dict[str, str]:
    """Play the browser at the provider: the redirect's query (code, state, device_id)."""
    async with httpx.AsyncClient() as browser:
        r = await browser.get(f"{authorize_url}&user={user}")
    assert r.status_code == 302, r.text
    location = r.headers["location"]
    assert location.startswith(VK_REDIRECT + "?") or location.startswith(OK_REDIRECT + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def test_vk_authorize_url_carries_pkce_and_the_exact_redirect(vk_server: ServedApp) -> None:
    client = vk_client(vk_server.url)
    url = client.authorize_url(state="st", code_challenge="ch")
    query = parse_qs(urlsplit(url).query)
    assert url.startswith(vk_server.url + "/authorize?")
    assert query["redirect_uri"] == [VK_REDIRECT] and query["code_challenge_method"] == ["S256"]
    assert query["client_id"] == ["vk-app"] and query["response_type"] == ["code"]
    assert query["state"] == ["st"] and query["code_challenge"] == ["ch"]
    await client.aclose()


async def test_vk_sign_in_with_device_id_and_verifier(vk_server: ServedApp) -> None:
    client = vk_client(vk_server.url)
    verifier, state = pkce_verifier(), random_token()
    back = await approve(client.authorize_url(state=state, code_challenge=pkce_challenge(verifier)))
    assert back["state"] == state and back["device_id"]
    profile = await client.profile(
        code=back["code"], code_verifier=verifier, device_id=back["device_id"], state=state
    )
    assert (profile.provider, profile.external_id) == ("vk", "100001")
    assert (profile.first_name, profile.last_name) == ("Иван", "Паровозов")
    assert profile.email == "ivan.parovozov@example.ru" and profile.email_verified is False

    # the code is single-use
    with pytest.raises(ApiError) as caught:
        await client.profile(
            code=back["code"], code_verifier=verifier, device_id=back["device_id"], state=state
        )
    assert (caught.value.status, caught.value.code) == (401, "OAUTH_EXCHANGE_FAILED")
    await client.aclose()


@pytest.mark.parametrize("spoil", ["verifier", "device_id", "no_device_id"])
async def test_vk_refuses_a_wrong_verifier_or_device(vk_server: ServedApp, spoil: str) -> None:
    client = vk_client(vk_server.url)
    verifier, state = pkce_verifier(), random_token()
    back = await approve(client.authorize_url(state=state, code_challenge=pkce_challenge(verifier)))
    device_id: str | None = back["device_id"]
    if spoil == "verifier":
        verifier = pkce_verifier()
    elif spoil == "device_id":
        device_id = "another-device"
    else:
        device_id = None
    with pytest.raises(ApiError) as caught:
        await client.profile(code=back["code"], code_verifier=verifier, device_id=device_id, state=state)
    assert (caught.value.status, caught.value.code) == (401, "OAUTH_EXCHANGE_FAILED")
    await client.aclose()


async def test_vk_sandbox_refuses_another_redirect_uri(vk_server: ServedApp) -> None:
    other = VkIdClient(client_id="vk-app", redirect_uri="https://evil.test/cb", base_url=vk_server.url)
    async with httpx.AsyncClient() as browser:
        r = await browser.get(other.authorize_url(state="s", code_challenge=pkce_challenge(pkce_verifier())))
    assert r.status_code == 400 and "location" not in r.headers
    await other.aclose()


async def test_ok_sign_in_with_signed_profile_call(ok_server: ServedApp) -> None:
    client = ok_client(ok_server.url)
    verifier, state = pkce_verifier(), random_token()
    url = client.authorize_url(state=state, code_challenge=pkce_challenge(verifier))
    assert url.startswith(ok_server.url + "/oauth/authorize?")
    back = await approve(url, user="maria")
    assert back["state"] == state
    profile = await client.profile(code=back["code"], code_verifier=verifier, device_id=None, state=state)
    assert (profile.provider, profile.external_id, profile.first_name) == ("ok", "100002", "Мария")
    assert profile.email is None
    with pytest.raises(ApiError) as caught:  # single-use code
        await client.profile(code=back["code"], code_verifier=verifier, device_id=None, state=state)
    assert caught.value.code == "OAUTH_EXCHANGE_FAILED"
    await client.aclose()


async def test_ok_wrong_secret_is_a_refused_exchange(ok_server: ServedApp) -> None:
    client = ok_client(ok_server.url, secret="not-the-secret")
    verifier = pkce_verifier()
    back = await approve(client.authorize_url(state="s", code_challenge=pkce_challenge(verifier)))
    with pytest.raises(ApiError) as caught:
        await client.profile(code=back["code"], code_verifier=verifier, device_id=None, state="s")
    assert (caught.value.status, caught.value.code) == (401, "OAUTH_EXCHANGE_FAILED")
    await client.aclose()


async def test_ok_sandbox_checks_the_sig(ok_server: ServedApp) -> None:
    client = ok_client(ok_server.url)
    verifier = pkce_verifier()
    back = await approve(client.authorize_url(state="s", code_challenge=pkce_challenge(verifier)))
    async with httpx.AsyncClient() as raw:
        r = await raw.post(
            ok_server.url + "/oauth/token.do",
            data={
                "code": back["code"],
                "client_id": "ok-app",
                "client_secret": "ok-secret",
                "redirect_uri": OK_REDIRECT,
                "grant_type": "authorization_code",
                "code_verifier": verifier,
            },
        )
        token = r.json()["access_token"]
        params = {"application_key": "OKPUBLIC", "format": "json", "method": "users.getCurrentUser"}
        r = await raw.get(ok_server.url + "/fb.do", params={**params, "access_token": token, "sig": "0" * 32})
    assert r.json()["error_code"] == 104
    await client.aclose()


def _broken_provider() -> Starlette:
    async def not_json(request):
        return PlainTextResponse("<html>maintenance</html>")

    async def no_token(request):
        return JSONResponse({"token_type": "Bearer", "user_id": 1})

    async def redirect(request):
        return PlainTextResponse("", status_code=302, headers={"location": "http://169.254.169.254/"})

    return Starlette(
        routes=[
            Route("/html/oauth2/auth", not_json, methods=["POST"]),
            Route("/empty/oauth2/auth", no_token, methods=["POST"]),
            Route("/moved/oauth2/auth", redirect, methods=["POST"]),
        ]
    )


@pytest.mark.parametrize("prefix", ["html", "empty", "moved"])
async def test_malformed_provider_answers_are_502(prefix: str) -> None:
    with ServedApp(_broken_provider()) as broken:
        client = vk_client(f"{broken.url}/{prefix}")
        with pytest.raises(ApiError) as caught:
            await client.profile(code="c", code_verifier=pkce_verifier(), device_id="d", state="s")
        await client.aclose()
    assert (caught.value.status, caught.value.code) == (502, "OAUTH_PROVIDER_ERROR")


async def test_unreachable_provider_is_502() -> None:
    client = vk_client(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(ApiError) as caught:
        await client.profile(code="c", code_verifier=pkce_verifier(), device_id="d", state="s")
    await client.aclose()
    assert caught.value.status == 502
