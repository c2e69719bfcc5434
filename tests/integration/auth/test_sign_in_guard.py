"""The sign-in guard in Auth over real PostgreSQL, with the captcha pointed at the Yandex sandbox:
failures counted in `sign_in_failures` (shared by replicas), captcha and delays on the login route,
captcha on sign-up and password-forgot when configured, the purge job."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
import sqlalchemy as sa

from parovoz.sandboxes import sandbox_app
from parovoz.sandboxes.captcha import SANDBOX_SECRET, SANDBOX_SITE_KEY
from parovoz.services.auth.domain.sign_in_guard import login_key, utcnow
from parovoz.services.auth.sign_in_failures import PURGE_JOB, SignInFailureStore
from tests.integration.auth.conftest import PASSWORD, AuthHarness, BuildAuth, error_codes
from tests.servers import ServedApp

EMAIL, USERNAME = "guarded@example.ru", "guarded_one"


@pytest.fixture(scope="module")
def yandex_url() -> Iterator[str]:
    with ServedApp(sandbox_app("captcha-yandex")) as app:
        yield app.url + "/validate"


def captcha_env(url: str, **extra: str) -> dict[str, str]:
    return {
        "AUTH_CAPTCHA_PROVIDER": "yandex",
        "AUTH_CAPTCHA_SECRET": SANDBOX_SECRET,
        "AUTH_CAPTCHA_SITE_KEY": SANDBOX_SITE_KEY,
        "AUTH_CAPTCHA_URL": url,
        "AUTH_CAPTCHA_TIMEOUT": "0.5",
        **extra,
    }


async def login(auth: AuthHarness, login: str, password: str, token: str | None = None) -> httpx.Response:
    body = {"login": login, "password": password}
    if token is not None:
        body["captchaToken"] = token
    return await auth.client.post("/api/v1/auth/login", json=body)


async def failure_rows(auth: AuthHarness, kind: str = "login") -> int:
    async with auth.db.connect() as conn:
        return (
            await conn.execute(sa.text("SELECT count(*) FROM sign_in_failures WHERE kind = :k"), {"k": kind})
        ).scalar_one()


async def test_five_failures_then_a_captcha_that_the_owner_solves(
    build_auth: BuildAuth, yandex_url: str
) -> None:
    auth = await build_auth(captcha_env(yandex_url))
    assert (await auth.register(EMAIL, USERNAME)).status_code == 201
    for _ in range(5):
        r = await login(auth, EMAIL, "wrong-password-1")
        assert (r.status_code, error_codes(r)) == (401, ["INVALID_CREDENTIALS"])
    assert await failure_rows(auth) == 5

    r = await login(auth, EMAIL, PASSWORD)  # even the right password needs the captcha now
    assert (r.status_code, error_codes(r)) == (401, ["CAPTCHA_REQUIRED"])
    error = r.json()["errors"][0]
    assert error["meta"] == {"captcha": {"provider": "yandex", "siteKey": SANDBOX_SITE_KEY}}
    assert error["title"] and error["detail"]

    r = await login(auth, EMAIL, PASSWORD, "forged-token")
    assert (r.status_code, error_codes(r)) == (401, ["CAPTCHA_INVALID"])
    assert r.json()["errors"][0]["source"] == {"pointer": "/data/attributes/captchaToken"}

    r = await login(auth, EMAIL, PASSWORD, "pass-owner-1")
    assert r.status_code == 200, r.text
    assert await failure_rows(auth) == 0  # the success cleared the login's count
    assert await failure_rows(auth, "ip") == 5  # the address keeps its own

    r = await login(auth, EMAIL, PASSWORD, "pass-owner-1")  # no captcha needed any more
    assert r.status_code == 200, r.text


async def test_a_reused_captcha_token_is_refused(build_auth: BuildAuth, yandex_url: str) -> None:
    auth = await build_auth(captcha_env(yandex_url))
    for _ in range(5):
        await login(auth, "nobody@example.ru", "wrong-password-1")
    r = await login(auth, "nobody@example.ru", "wrong-password-2", "pass-reused-1")
    assert (r.status_code, error_codes(r)) == (401, ["INVALID_CREDENTIALS"])  # captcha passed, password not
    r = await login(auth, "nobody@example.ru", "wrong-password-3", "pass-reused-1")
    assert (r.status_code, error_codes(r)) == (401, ["CAPTCHA_INVALID"])


async def test_an_unavailable_provider_fails_closed(build_auth: BuildAuth, yandex_url: str) -> None:
    auth = await build_auth(captcha_env(yandex_url))
    assert (await auth.register(EMAIL, USERNAME)).status_code == 201
    for _ in range(5):
        await login(auth, USERNAME, "wrong-password-1")
    for token in ("down-1", "slow-1"):
        r = await login(auth, USERNAME, PASSWORD, token)
        assert (r.status_code, error_codes(r)) == (503, ["CAPTCHA_UNAVAILABLE"])
        assert "access" not in r.text


async def test_without_a_provider_the_next_attempts_are_delayed(build_auth: BuildAuth) -> None:
    auth = await build_auth()
    for _ in range(5):
        assert (await login(auth, "victim@example.ru", "wrong-password-1")).status_code == 401
    r = await login(auth, "victim@example.ru", "wrong-password-1")
    assert (r.status_code, error_codes(r)) == (429, ["SIGN_IN_DELAYED"])
    assert r.headers["retry-after"] == "1"
    assert await failure_rows(auth) == 5  # the delayed attempt checked no password


async def test_replicas_share_the_count(build_auth: BuildAuth) -> None:
    first, second = await build_auth(), await build_auth()
    for replica in (first, second, first, second, first):
        assert (await login(replica, "shared@example.ru", "wrong-password-1")).status_code == 401
    r = await login(second, "shared@example.ru", "wrong-password-1")
    assert (r.status_code, error_codes(r)) == (429, ["SIGN_IN_DELAYED"])


async def test_the_purge_job_drops_failures_older_than_an_hour(build_auth: BuildAuth) -> None:
    auth = await build_auth()
    store = SignInFailureStore(auth.db)
    now = utcnow()
    await store.record(login_key("old@example.ru"), b"ip-old", now - timedelta(hours=2))
    await store.record(login_key("new@example.ru"), b"ip-new", now - timedelta(minutes=5))
    await PURGE_JOB.run(auth.ctx)
    assert await failure_rows(auth) == 1
    old, _ = await store.read(
        login_key("old@example.ru"),
        b"ip-old",
        recent_since=now - timedelta(days=1),
        hour_since=now - timedelta(days=1),
    )
    assert old.hourly == 0


async def test_sign_up_and_password_forgot_ask_for_a_captcha_when_configured(
    build_auth: BuildAuth, yandex_url: str
) -> None:
    auth = await build_auth(captcha_env(yandex_url, AUTH_CAPTCHA_ROUTES="register,password-forgot"))
    body = {"email": EMAIL, "username": USERNAME, "password": PASSWORD, "acceptTerms": True}
    r = await auth.client.post("/api/v1/auth/register", json=body)
    assert (r.status_code, error_codes(r)) == (401, ["CAPTCHA_REQUIRED"])
    assert await auth.count("users") == 0
    r = await auth.client.post("/api/v1/auth/register", json={**body, "captchaToken": "pass-signup-1"})
    assert r.status_code == 201, r.text

    for email in (EMAIL, "nobody@example.ru"):  # asked of every address alike
        r = await auth.client.post("/api/v1/auth/password/forgot", json={"email": email})
        assert (r.status_code, error_codes(r)) == (401, ["CAPTCHA_REQUIRED"])
        r = await auth.client.post(
            "/api/v1/auth/password/forgot", json={"email": email, "captchaToken": f"pass-forgot-{email}"}
        )
        assert r.status_code == 202, r.text


async def test_a_malformed_captcha_token_is_a_validation_error(build_auth: BuildAuth) -> None:
    auth = await build_auth()
    for token in (123, "", "x" * 9000):
        r = await auth.client.post(
            "/api/v1/auth/login", json={"login": EMAIL, "password": PASSWORD, "captchaToken": token}
        )
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["source"]["pointer"] == "/captchaToken"
