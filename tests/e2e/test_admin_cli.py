"""`parovoz admin create-user` end to end: beside a running `parovoz up`, and on a fresh data dir."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.e2e import processes
from tests.e2e.flows import new_user, wait_profile

pytestmark = pytest.mark.slow


def create_user(data_dir: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAROVOZ_")}
    return subprocess.run(
        [sys.executable, "-m", "parovoz", "admin", "create-user", "--data-dir", str(data_dir), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def sign_in(client: httpx.Client, login: str, password: str) -> str:
    r = client.post("/api/v1/auth/login", json={"login": login, "password": password})
    assert r.status_code == 200, r.text
    return r.json()["data"]["attributes"]["accessToken"]


def token_roles(access: str) -> set[str]:
    payload = access.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return set(claims["roles"])


def test_create_an_admin_beside_a_running_platform(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    user = new_user()
    with processes.embedded(data_dir) as base, httpx.Client(base_url=base, timeout=10) as client:
        done = create_user(
            data_dir,
            *("--email", user["email"], "--username", user["username"], "--password", user["password"]),
            *("--role", "admin", "--role", "moderator"),
        )
        assert done.returncode == 0, done.stderr
        user_id = done.stdout.strip()
        assert len(user_id) == 36 and "Traceback" not in done.stderr

        access = sign_in(client, user["email"], user["password"])
        assert token_roles(access) == {"user", "admin", "moderator"}
        auth = {"Authorization": f"Bearer {access}"}
        assert client.get("/api/v1/users", headers=auth).status_code == 200  # staff only
        # the registered event went through the outbox: Account made the profile
        profile = wait_profile(client, access)
        assert profile["id"] == user_id
        assert profile["attributes"]["email"] == user["email"]

        # The same e-mail again (other case, fewer roles): refused, and nothing changes.
        again = create_user(
            data_dir,
            *(
                "--email",
                user["email"].upper(),
                "--username",
                "someone_else",
                "--password",
                user["password"] + "-2",
            ),
        )
        assert again.returncode == 1
        assert "EMAIL_TAKEN" in again.stderr and "already exists" in again.stderr
        assert "Traceback" not in again.stderr and again.stdout == ""
        taken = create_user(
            data_dir,
            *(
                "--email",
                "other@example.ru",
                "--username",
                user["username"],
                "--password",
                user["password"] + "-2",
            ),
        )
        assert taken.returncode == 1 and "USERNAME_TAKEN" in taken.stderr
        bad_role = create_user(
            data_dir,
            *("--email", "other@example.ru", "--username", "other", "--password", "long enough"),
            *("--role", "superuser"),
        )
        assert bad_role.returncode == 1 and "INVALID_ROLE" in bad_role.stderr
        short = create_user(
            data_dir, "--email", "other@example.ru", "--username", "other", "--password", "short"
        )
        assert short.returncode == 1 and "INVALID_PASSWORD" in short.stderr
        assert token_roles(sign_in(client, user["username"], user["password"])) == {
            "user",
            "admin",
            "moderator",
        }
        r = client.post("/api/v1/auth/login", json={"login": "other@example.ru", "password": "long enough"})
        assert r.status_code == 401


def test_create_a_user_on_a_fresh_data_dir_with_the_password_on_stdin(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    user = new_user()
    done = create_user(
        data_dir,
        *("--email", user["email"], "--username", user["username"], "--password-stdin"),
        stdin=user["password"] + "\n",
    )
    assert done.returncode == 0, done.stderr
    user_id = done.stdout.strip()
    # The private PostgreSQL it started is stopped again; `parovoz up` then publishes the event.
    with processes.embedded(data_dir) as base, httpx.Client(base_url=base, timeout=10) as client:
        access = sign_in(client, user["username"], user["password"])
        assert token_roles(access) == {"user"}
        assert wait_profile(client, access)["id"] == user_id
        r = client.get("/api/v1/users", headers={"Authorization": f"Bearer {access}"})
        assert r.status_code == 403
