"""Embedded mode end to end: `parovoz up` in a subprocess, everything through the gateway."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.e2e import processes
from tests.e2e.flows import signup_flow, wait_profile

pytestmark = pytest.mark.slow


def test_signup_flow_survives_a_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with processes.embedded(data_dir) as base, httpx.Client(base_url=base, timeout=10) as client:
        user = signup_flow(client)
        r = client.get("/api/v1/openapi.json")
        assert r.status_code == 200
        paths = r.json()["paths"]
        assert "/api/v1/auth/register" in paths and "/api/v1/users/me" in paths
        assert client.get("/api/v1/docs").status_code == 200
        assert "parovoz_" in client.get("/metrics").text
        sign_up_with_the_demo_vk_sandbox(client)
        captcha_after_failures_with_the_demo_sandbox(client, user)

    # Same data directory: the user, the profile edit and the demo data are all still there.
    with processes.embedded(data_dir) as base, httpx.Client(base_url=base, timeout=10) as client:
        r = client.post("/api/v1/auth/login", json={"login": user["email"], "password": user["password"]})
        assert r.status_code == 200, r.text
        profile = wait_profile(client, r.json()["data"]["attributes"]["accessToken"])
        assert profile["attributes"]["displayName"] == "Иван Паровозов"
        assert profile["attributes"]["country"] == "RU"


def sign_up_with_the_demo_vk_sandbox(client: httpx.Client) -> None:
    """`parovoz up` plays VK ID with its sandbox: authorize → the sandbox approves → callback gives
    our tokens, following real redirects with the state cookie, on the platform's own port."""
    with httpx.Client(base_url=str(client.base_url), timeout=10, follow_redirects=True) as browser:
        r = browser.get("/api/v1/auth/oauth/vk/authorize", params={"acceptTerms": "true"})
        assert r.status_code == 200, r.text
        assert [h.status_code for h in r.history] == [302, 302]
        assert r.json()["data"]["type"] == "tokens"
        access = r.json()["data"]["attributes"]["accessToken"]
        identities = browser.get("/api/v1/auth/identities", headers={"Authorization": f"Bearer {access}"})
        assert [i["attributes"]["provider"] for i in identities.json()["data"]] == ["vk"]


def captcha_after_failures_with_the_demo_sandbox(client: httpx.Client, user: dict) -> None:
    """Five wrong passwords, then the demo's Yandex SmartCaptcha sandbox is asked for; a solved
    captcha with the right password signs in."""
    wrong = {"login": user["email"], "password": "not-the-password-at-all"}
    codes = [client.post("/api/v1/auth/login", json=wrong).json()["errors"][0]["code"] for _ in range(6)]
    assert codes[:5] == ["INVALID_CREDENTIALS"] * 5 and codes[5] == "CAPTCHA_REQUIRED", codes
    required = client.post("/api/v1/auth/login", json={"login": user["email"], "password": user["password"]})
    assert required.status_code == 401
    assert required.json()["errors"][0]["meta"]["captcha"]["provider"] == "yandex"
    solved = {"login": user["email"], "password": user["password"], "captchaToken": "pass-demo-1"}
    r = client.post("/api/v1/auth/login", json=solved)
    assert r.status_code == 200, r.text
