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

    # Same data directory: the user, the profile edit and the demo data are all still there.
    with processes.embedded(data_dir) as base, httpx.Client(base_url=base, timeout=10) as client:
        r = client.post("/api/v1/auth/login", json={"login": user["email"], "password": user["password"]})
        assert r.status_code == 200, r.text
        profile = wait_profile(client, r.json()["data"]["attributes"]["accessToken"])
        assert profile["attributes"]["displayName"] == "Иван Паровозов"
        assert profile["attributes"]["country"] == "RU"
