"""TOTP two-factor authentication end to end through the gateway: enrol → confirm → a login
answers a challenge → the second step gives tokens; replayed and spent codes, a wrong mfaToken and
a challenge killed by five wrong codes are refused in the contract format; disabling needs the
password and a code, and a login then gives tokens directly."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import quote

import httpx
import sqlalchemy as sa

from parovoz.chassis.events.cloudevents import CloudEvent
from parovoz.runtime.embedded import EmbeddedPlatform
from parovoz.services.auth.domain import totp
from tests.e2e.flows import new_user


class Authenticator:
    """Codes of steps not used yet, from the oldest one the ±1 window accepts: fresh codes
    without waiting 30 s for the next one."""

    def __init__(self, secret: str) -> None:
        self.key, self.last = totp.secret_bytes(secret), -1

    def _next_step(self) -> int:
        return max(self.last + 1, totp.step_at(datetime.now(UTC)) - totp.WINDOW)

    def peek(self) -> str:
        return totp.code_at_step(self.key, self._next_step())

    def code(self) -> str:
        self.last = self._next_step()
        return totp.code_at_step(self.key, self.last)

    def wrong(self) -> str:
        """A code no step of the window has."""
        now = totp.step_at(datetime.now(UTC))
        window = {totp.code_at_step(self.key, s) for s in range(now - 2, now + 3)}
        return next(c for c in (f"{n:06d}" for n in range(1000)) if c not in window)


def _error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    [error] = response.json()["errors"]
    assert error["code"] == code and error["title"] and error["detail"], error


async def _events(platform: EmbeddedPlatform, user_id: str) -> list[dict]:
    auth = next(host for host in platform.hosts if host.spec.name == "auth")
    query = sa.text("SELECT payload FROM outbox WHERE topic = :topic AND key = :key ORDER BY seq")
    async with auth.ctx.db.connect() as conn:
        rows = (await conn.execute(query, {"topic": "auth.user.two_factor.changed", "key": user_id})).all()
    return [CloudEvent.from_json(row.payload).data for row in rows]


async def test_two_factor_through_the_gateway(
    gateway_client: Callable[..., httpx.AsyncClient], embedded_platform: EmbeddedPlatform
) -> None:
    async with gateway_client() as client:
        user = new_user()
        r = await client.post("/api/v1/auth/register", json=user)
        assert r.status_code == 201, r.text
        user_id = r.json()["data"]["id"]
        credentials = {"login": user["email"], "password": user["password"]}
        r = await client.post("/api/v1/auth/login", json=credentials)
        bearer = {"Authorization": f"Bearer {r.json()['data']['attributes']['accessToken']}"}

        # enrol: a secret and its otpauth URI, never cached
        r = await client.post("/api/v1/auth/2fa/totp", headers=bearer)
        assert r.status_code == 200, r.text
        assert r.headers["cache-control"] == "no-store"
        enrolment = r.json()["data"]["attributes"]
        secret = enrolment["secret"]
        assert enrolment["otpauthUri"] == (
            f"otpauth://totp/Parovoz:{quote(user['username'])}?secret={secret}"
            "&issuer=Parovoz&algorithm=SHA1&digits=6&period=30"
        )
        app = Authenticator(secret)
        r = await client.post("/api/v1/auth/2fa/totp/confirm", json={"code": app.wrong()}, headers=bearer)
        _error(r, 401, "INVALID_MFA_CODE")
        assert (await client.post("/api/v1/auth/login", json=credentials)).json()["data"]["type"] == "tokens"

        r = await client.post("/api/v1/auth/2fa/totp/confirm", json={"code": app.code()}, headers=bearer)
        assert r.status_code == 200, r.text
        recovery = r.json()["data"]["attributes"]["recoveryCodes"]
        assert len(set(recovery)) == 10
        _error(await client.post("/api/v1/auth/2fa/totp", headers=bearer), 409, "MFA_ALREADY_ENABLED")

        # login → challenge → second step → tokens
        r = await client.post("/api/v1/auth/login", json=credentials)
        assert r.status_code == 200, r.text
        challenge = r.json()["data"]
        assert challenge["type"] == "mfa-challenges" and "accessToken" not in r.text
        assert challenge["attributes"]["expiresIn"] == 300
        assert challenge["attributes"]["methods"] == ["totp", "recovery_code"]
        code = app.code()
        body = {"mfaToken": challenge["attributes"]["mfaToken"], "code": code}
        r = await client.post("/api/v1/auth/login/2fa", json=body)
        assert r.status_code == 200, r.text
        assert r.json()["data"]["type"] == "tokens" and r.headers["cache-control"] == "no-store"
        bearer = {"Authorization": f"Bearer {r.json()['data']['attributes']['accessToken']}"}
        assert (await client.get("/api/v1/auth/sessions", headers=bearer)).status_code == 200
        _error(await client.post("/api/v1/auth/login/2fa", json=body), 401, "INVALID_MFA_TOKEN")

        # the same TOTP code again, on a new challenge: refused; a recovery code works once
        r = await client.post("/api/v1/auth/login", json=credentials)
        token = r.json()["data"]["attributes"]["mfaToken"]
        r = await client.post("/api/v1/auth/login/2fa", json={"mfaToken": token, "code": code})
        _error(r, 401, "INVALID_MFA_CODE")
        typed = recovery[0].upper().replace("-", "")
        r = await client.post("/api/v1/auth/login/2fa", json={"mfaToken": token, "code": typed})
        assert r.status_code == 200 and r.json()["data"]["type"] == "tokens", r.text
        r = await client.post("/api/v1/auth/login", json=credentials)
        token = r.json()["data"]["attributes"]["mfaToken"]
        r = await client.post("/api/v1/auth/login/2fa", json={"mfaToken": token, "code": recovery[0]})
        _error(r, 401, "INVALID_MFA_CODE")

        # a wrong mfaToken; then five wrong codes kill the challenge (the right code comes too late)
        r = await client.post("/api/v1/auth/login/2fa", json={"mfaToken": "x" * 43, "code": app.peek()})
        _error(r, 401, "INVALID_MFA_TOKEN")
        r = await client.post("/api/v1/auth/login", json=credentials)
        token = r.json()["data"]["attributes"]["mfaToken"]
        r = await client.post("/api/v1/auth/login/2fa", json={"mfaToken": token})
        _error(r, 422, "VALIDATION_FAILED")
        for _ in range(5):
            r = await client.post("/api/v1/auth/login/2fa", json={"mfaToken": token, "code": app.wrong()})
            _error(r, 401, "INVALID_MFA_CODE")
        r = await client.post("/api/v1/auth/login/2fa", json={"mfaToken": token, "code": app.peek()})
        _error(r, 401, "INVALID_MFA_TOKEN")

        # disabling needs the password and a code; each failure leaves 2FA on
        url = "/api/v1/auth/2fa/totp"
        for attempt, status, error_code in (
            ({"password": "wrong-password-1", "code": app.peek()}, 401, "INVALID_CURRENT_PASSWORD"),
            ({"password": user["password"]}, 401, "MFA_CODE_REQUIRED"),
            ({"password": user["password"], "code": app.wrong()}, 401, "INVALID_MFA_CODE"),
        ):
            r = await client.request("DELETE", url, json=attempt, headers=bearer)
            _error(r, status, error_code)
        r = await client.post("/api/v1/auth/login", json=credentials)
        assert r.json()["data"]["type"] == "mfa-challenges"
        r = await client.request(
            "DELETE", url, json={"password": user["password"], "code": app.code()}, headers=bearer
        )
        assert r.status_code == 204, r.text

        r = await client.post("/api/v1/auth/login", json=credentials)
        assert r.status_code == 200 and r.json()["data"]["type"] == "tokens", r.text
        events = await _events(embedded_platform, user_id)
        assert [(e["enabled"], e["email"]) for e in events] == [(True, user["email"]), (False, user["email"])]
