"""Rate limits per client address and per login, and the demo users."""

from __future__ import annotations

from parovoz.services.auth import SPEC
from parovoz.services.auth.config import DEFAULT_DEMO_PASSWORD
from tests.integration.auth.conftest import PASSWORD, AuthHarness, BuildAuth, error_codes


async def test_login_flood_from_one_address_meets_429(build_auth: BuildAuth) -> None:
    auth = await build_auth({"AUTH_LOGIN_RATE_PER_MIN": "5", "AUTH_LOGIN_ID_RATE_PER_MIN": "100"})
    ip = {"X-Original-IP": "203.0.113.9"}
    statuses = [(await auth.login(f"user{i}", "wrong-password", **ip)).status_code for i in range(5)]
    assert statuses == [401] * 5
    limited = await auth.login("user-x", "wrong-password", **ip)
    assert limited.status_code == 429 and error_codes(limited) == ["RATE_LIMITED"]
    assert int(limited.headers["retry-after"]) >= 1
    # junk bodies count too (the limit is taken before the body is read)
    junk = await auth.client.post(
        "/api/v1/auth/login", content=b"{", headers={**ip, "Content-Type": "application/json"}
    )
    assert junk.status_code == 429
    # another address is not affected
    assert (
        await auth.login("user-y", "wrong-password", **{"X-Original-IP": "203.0.113.10"})
    ).status_code == 401


async def test_one_login_is_limited_across_addresses(build_auth: BuildAuth) -> None:
    auth = await build_auth({"AUTH_LOGIN_ID_RATE_PER_MIN": "3"})
    await auth.register("ann@example.com", "ann")
    for i in range(3):
        response = await auth.login("ann", "wrong-password", **{"X-Original-IP": f"192.0.2.{i}"})
        assert response.status_code == 401
    # the same account under another spelling is the same identifier
    limited = await auth.login("ANN", PASSWORD, **{"X-Original-IP": "192.0.2.99"})
    assert limited.status_code == 429 and "retry-after" in limited.headers
    assert (
        await auth.login("ann@example.com", PASSWORD, **{"X-Original-IP": "192.0.2.99"})
    ).status_code == 200


async def test_register_flood_meets_429(build_auth: BuildAuth) -> None:
    auth = await build_auth({"AUTH_REGISTER_RATE_PER_MIN": "2"})
    assert (await auth.register("a@example.com", "user_a")).status_code == 201
    assert (await auth.register("b@example.com", "user_b")).status_code == 201
    limited = await auth.register("c@example.com", "user_c")
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert await auth.count("users") == 2


async def test_default_limits_stop_a_few_hundred_attempts_a_minute(auth: AuthHarness) -> None:
    statuses = [(await auth.login(f"u{i}", "wrong-password")).status_code for i in range(31)]
    # the sign-in guard delays an address after 20 failures, before its rate limit's 30 a minute
    assert statuses[:20] == [401] * 20 and set(statuses[20:]) == {429}


async def test_demo_users_are_seeded_once(auth: AuthHarness) -> None:
    assert SPEC.seed_demo is not None
    await SPEC.seed_demo(auth.ctx)
    await SPEC.seed_demo(auth.ctx)
    assert await auth.count("users") == 2 and await auth.count("outbox") == 4
    admin = await auth.login("admin@parovoz.local", DEFAULT_DEMO_PASSWORD)
    demo = await auth.login("demo", DEFAULT_DEMO_PASSWORD)
    assert admin.status_code == demo.status_code == 200
    principal = auth.ctx.tokens.verify(admin.json()["data"]["attributes"]["accessToken"])
    assert principal.roles == frozenset({"user", "admin"})


async def test_demo_password_comes_from_settings(build_auth: BuildAuth) -> None:
    auth = await build_auth({"AUTH_DEMO_PASSWORD": "another-demo-pass"})
    await SPEC.seed_demo(auth.ctx)  # type: ignore[misc]
    assert (await auth.login("demo", DEFAULT_DEMO_PASSWORD)).status_code == 401
    assert (await auth.login("demo", "another-demo-pass")).status_code == 200
