"""2FA against a real database: what is stored (hashes, never codes or tokens), the event in the
outbox, simultaneous uses of one code (exactly one wins), the per-user budget of wrong codes, and
the erasure and export of a deleted user's 2FA rows."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime
from typing import Any

import httpx
import sqlalchemy as sa

from parovoz.chassis.errors import ApiError
from parovoz.chassis.events.cloudevents import CloudEvent
from parovoz.services.auth.deletion import erase_user
from parovoz.services.auth.domain import totp
from parovoz.services.auth.export import export_user
from parovoz.services.auth.wiring import components
from tests.integration.auth.conftest import AuthHarness, BuildAuth, attributes, error_codes

TOPIC = "auth.user.two_factor.changed"


class Authenticator:
    """Codes of steps not used yet, from the oldest the ±1 window accepts (no waiting)."""

    def __init__(self, secret: str) -> None:
        self.secret, self.last = secret, -1

    def code(self) -> str:
        self.last = max(self.last + 1, totp.step_at(datetime.now(UTC)) - totp.WINDOW)
        return totp.code_at_step(totp.secret_bytes(self.secret), self.last)


async def _bearer(auth: AuthHarness, login: str) -> dict[str, str]:
    response = await auth.login(login)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {attributes(response)['accessToken']}"}


async def _enrolled(auth: AuthHarness, name: str = "ann") -> tuple[str, Authenticator, list[str]]:
    registered = await auth.register(f"{name}@example.com", name)
    assert registered.status_code == 201, registered.text
    headers = await _bearer(auth, name)
    started = await auth.client.post("/api/v1/auth/2fa/totp", headers=headers)
    assert started.status_code == 200, started.text
    assert started.headers["cache-control"] == "no-store"
    app = Authenticator(attributes(started)["secret"])
    confirmed = await auth.client.post(
        "/api/v1/auth/2fa/totp/confirm", json={"code": app.code()}, headers=headers
    )
    assert confirmed.status_code == 200, confirmed.text
    return registered.json()["data"]["id"], app, attributes(confirmed)["recoveryCodes"]


async def _rows(auth: AuthHarness, query: str, **params: Any) -> list[Any]:
    async with auth.db.connect() as conn:
        return list((await conn.execute(sa.text(query), params)).all())


async def _challenge(auth: AuthHarness, login: str = "ann") -> str:
    response = await auth.login(login)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["type"] == "mfa-challenges"
    return data["attributes"]["mfaToken"]


async def _second_step(auth: AuthHarness, token: str, code: str) -> httpx.Response:
    return await auth.client.post("/api/v1/auth/login/2fa", json={"mfaToken": token, "code": code})


async def test_only_hashes_are_stored_and_the_change_is_an_event(auth: AuthHarness) -> None:
    user_id, _, codes = await _enrolled(auth)
    stored = {row.code_hash for row in await _rows(auth, "SELECT code_hash FROM recovery_codes")}
    assert stored == {hashlib.sha256(c.replace("-", "").encode()).digest() for c in codes}
    token = await _challenge(auth)
    [challenge] = await _rows(auth, "SELECT token_hash, user_id::text AS user_id FROM mfa_challenges")
    assert (challenge.token_hash, challenge.user_id) == (hashlib.sha256(token.encode()).digest(), user_id)

    [event] = await _rows(auth, "SELECT payload FROM outbox WHERE topic = :t", t=TOPIC)
    data = CloudEvent.from_json(event.payload).data
    assert (data["userId"], data["enabled"], data["email"]) == (user_id, True, "ann@example.com")


async def test_simultaneous_uses_of_one_code_let_exactly_one_through(auth: AuthHarness) -> None:
    user_id, app, codes = await _enrolled(auth)
    mfa = components(auth.ctx).mfa

    async def attempt(code: str) -> str:
        try:
            await mfa.verify_code_for(user_id, code)
        except ApiError as exc:
            return exc.code
        return "ok"

    for code in (app.code(), codes[0]):
        outcomes = await asyncio.gather(*(attempt(code) for _ in range(4)))
        assert sorted(outcomes) == ["INVALID_MFA_CODE"] * 3 + ["ok"], code

    # two sign-ins finishing with the same code on two challenges: one session, one refusal
    code = app.code()
    first, second = await _challenge(auth), await _challenge(auth)
    answers = await asyncio.gather(_second_step(auth, first, code), _second_step(auth, second, code))
    assert sorted(r.status_code for r in answers) == [200, 401]


async def test_wrong_codes_run_out_per_user_then_429(build_auth: BuildAuth) -> None:
    auth = await build_auth(env={"AUTH_MFA_FAILURES_PER_USER": "3"})
    _, app, _ = await _enrolled(auth)
    for _ in range(3):
        wrong = await _second_step(auth, await _challenge(auth), "000000")
        assert (wrong.status_code, error_codes(wrong)) == (401, ["INVALID_MFA_CODE"])
    limited = await _second_step(auth, await _challenge(auth), app.code())
    assert (limited.status_code, error_codes(limited)) == (429, ["RATE_LIMITED"])
    assert 800 <= int(limited.headers["retry-after"]) <= 900
    assert (await _rows(auth, "SELECT count(*) AS n FROM mfa_failures"))[0].n == 3


async def test_replaced_pending_secret_and_bad_input(auth: AuthHarness) -> None:
    await auth.register("bob@example.com", "bob")
    headers = await _bearer(auth, "bob")
    first = attributes(await auth.client.post("/api/v1/auth/2fa/totp", headers=headers))["secret"]
    second = attributes(await auth.client.post("/api/v1/auth/2fa/totp", headers=headers))["secret"]
    [row] = await _rows(auth, "SELECT secret, confirmed_at FROM totp_credentials")
    assert (row.secret, row.confirmed_at) == (second, None) and first != second
    for body, status, code in (
        ({"code": Authenticator(first).code()}, 401, "INVALID_MFA_CODE"),
        ({"code": ""}, 422, "VALIDATION_FAILED"),
        ({"code": "1" * 65}, 422, "VALIDATION_FAILED"),
        ({"code": "123456", "extra": 1}, 422, "VALIDATION_FAILED"),
    ):
        response = await auth.client.post("/api/v1/auth/2fa/totp/confirm", json=body, headers=headers)
        assert (response.status_code, error_codes(response)[0]) == (status, code), body
    assert (await auth.login("bob")).json()["data"]["type"] == "tokens"  # still off
    anonymous = await auth.client.post("/api/v1/auth/2fa/totp")
    assert anonymous.status_code == 401


async def test_deletion_erases_and_export_tells_without_secrets(auth: AuthHarness) -> None:
    user_id, _, codes = await _enrolled(auth)
    await _challenge(auth)
    async with auth.db.connect() as conn:
        exported = await export_user(conn, user_id)
    assert exported is not None
    section = exported["twoFactor"]
    assert (section["enabled"], section["recoveryCodesLeft"]) == (True, 10) and section["enabledAt"]
    secret = (await _rows(auth, "SELECT secret FROM totp_credentials"))[0].secret
    assert secret not in str(exported) and codes[0] not in str(exported)

    async with auth.db.transaction() as uow:
        assert await erase_user(uow.conn, user_id, datetime.now(UTC))
    for table in ("totp_credentials", "recovery_codes", "mfa_challenges", "mfa_failures"):
        assert await auth.count(table) == 0, table
