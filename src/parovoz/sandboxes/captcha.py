"""Sandboxes of the three captcha providers' verify endpoints, with their real request and answer
shapes (`parovoz sandbox captcha-yandex --port N`, likewise `captcha-hcaptcha`, `captcha-recaptcha`).

The "widget" is the test itself: a token is whatever string it sends, and its prefix says what the
provider makes of it.

- `pass-…`: a solved captcha; it verifies once, a second use fails like a real reused token;
- `low-…`: reCAPTCHA only: verifies with a v3 score of 0.1 (a likely bot);
- `slow-…`: answered after `SLOW_S` seconds (to test the caller's timeout);
- `down-…`: HTTP 503, as a provider in trouble answers;
- anything else: an invalid token.

The server key must be `SANDBOX_SECRET`; widgets use `SANDBOX_SITE_KEY`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

SANDBOX_SECRET = "sandbox-secret"
SANDBOX_SITE_KEY = "sandbox-site-key"
SANDBOX_HOST = "parovoz.local"
SLOW_S = 2.0

PASSED, REUSED, INVALID, LOW_SCORE = "passed", "reused", "invalid", "low-score"


class Ledger:
    """The tokens seen so far: each solved token verifies once."""

    def __init__(self) -> None:
        self.spent: set[str] = set()

    def judge(self, token: str) -> str:
        if token.startswith("low-"):
            return LOW_SCORE
        if not token.startswith(("pass-", "slow-")):
            return INVALID
        if token in self.spent:
            return REUSED
        self.spent.add(token)
        return PASSED


Verify = Callable[[dict[str, str], Ledger], Response]


def _app(path: str, verify: Verify) -> Starlette:
    ledger = Ledger()

    async def endpoint(request: Request) -> Response:
        # x-www-form-urlencoded, as every one of the three providers takes it
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))
        token = form.get("token") or form.get("response") or ""
        if token.startswith("down-"):
            return PlainTextResponse("Service Unavailable", status_code=503)
        if token.startswith("slow-"):
            await asyncio.sleep(SLOW_S)
        return verify(form, ledger)

    handler: Callable[[Request], Awaitable[Response]] = endpoint
    return Starlette(routes=[Route(path, handler, methods=["POST"])])


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _yandex(form: dict[str, str], ledger: Ledger) -> Response:
    if form.get("secret") != SANDBOX_SECRET:
        return JSONResponse({"status": "failed", "message": "Authentication failed. Secret is invalid."}, 403)
    verdict = ledger.judge(form.get("token", ""))
    if verdict == PASSED:
        return JSONResponse({"status": "ok", "message": "", "host": SANDBOX_HOST})
    return JSONResponse({"status": "failed", "message": "Invalid or expired Token."})


def _site_verify(
    form: dict[str, str], ledger: Ledger, *, reused: str, site_key: bool
) -> dict[str, Any] | None:
    """The checks hCaptcha and reCAPTCHA share; the failure answer, or None when the token passed."""
    if not form.get("secret"):
        return {"success": False, "error-codes": ["missing-input-secret"]}
    if form["secret"] != SANDBOX_SECRET:
        return {"success": False, "error-codes": ["invalid-input-secret"]}
    if site_key and form.get("sitekey") not in (None, SANDBOX_SITE_KEY):
        return {"success": False, "error-codes": ["sitekey-secret-mismatch"]}
    if not form.get("response"):
        return {"success": False, "error-codes": ["missing-input-response"]}
    verdict = ledger.judge(form["response"])
    if verdict == REUSED:
        return {"success": False, "error-codes": [reused]}
    if verdict == INVALID:
        return {"success": False, "error-codes": ["invalid-input-response"]}
    return None


def _hcaptcha(form: dict[str, str], ledger: Ledger) -> Response:
    # hCaptcha has no scores: a "low-" token is simply not a solved one there
    if form.get("response", "").startswith("low-"):
        form = {**form, "response": "invalid"}
    failed = _site_verify(form, ledger, reused="already-seen-response", site_key=True)
    if failed is not None:
        return JSONResponse(failed)
    return JSONResponse({"success": True, "challenge_ts": _now(), "hostname": SANDBOX_HOST, "credit": False})


def _recaptcha(form: dict[str, str], ledger: Ledger) -> Response:
    failed = _site_verify(form, ledger, reused="timeout-or-duplicate", site_key=False)
    if failed is not None:
        return JSONResponse(failed)
    return JSONResponse(
        {
            "success": True,
            "challenge_ts": _now(),
            "hostname": SANDBOX_HOST,
            "score": 0.1 if form["response"].startswith("low-") else 0.9,
            "action": "login",
        }
    )


def yandex_app() -> Starlette:
    return _app("/validate", _yandex)


def hcaptcha_app() -> Starlette:
    return _app("/siteverify", _hcaptcha)


def recaptcha_app() -> Starlette:
    return _app("/recaptcha/api/siteverify", _recaptcha)
