"""Sign-in and sign-up floods from one address meet 429 (with Retry-After) through the gateway,
while another address is served as usual."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.e2e.flows import new_user


async def test_password_guessing_from_one_address_is_throttled(
    gateway_client: Callable[..., httpx.AsyncClient],
) -> None:
    victim = new_user()
    async with gateway_client("203.0.113.7") as attacker, gateway_client("203.0.113.8") as player:
        assert (await player.post("/api/v1/auth/register", json=victim)).status_code == 201
        statuses: list[int] = []
        for attempt in range(60):
            r = await attacker.post(
                "/api/v1/auth/login", json={"login": f"someone{attempt}@example.ru", "password": "guess-123"}
            )
            statuses.append(r.status_code)
            if r.status_code == 429:
                assert int(r.headers["retry-after"]) >= 1
                # the address's rate limit, or the sign-in guard's delay after 20 failures
                assert r.json()["errors"][0]["code"] in {"RATE_LIMITED", "SIGN_IN_DELAYED"}
        assert set(statuses) <= {401, 429}
        assert 429 in statuses, "sixty guesses a minute from one address were all answered"
        assert statuses.index(429) <= 31
        # the flood is refused, the player behind another address is not
        r = await player.post(
            "/api/v1/auth/login", json={"login": victim["email"], "password": victim["password"]}
        )
        assert r.status_code == 200, r.text


async def test_mass_sign_up_from_one_address_is_throttled(
    gateway_client: Callable[..., httpx.AsyncClient],
) -> None:
    async with gateway_client("203.0.113.9") as bot:
        statuses = [(await bot.post("/api/v1/auth/register", json=new_user())).status_code for _ in range(30)]
    assert statuses[0] == 201
    assert 429 in statuses
    assert statuses.count(201) <= 20
