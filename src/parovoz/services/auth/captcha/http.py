"""The one HTTP call every captcha adapter makes: a form POST answered by a JSON object."""

from __future__ import annotations

from typing import Any

import httpx

from parovoz.chassis.obs.logging import get_logger
from parovoz.services.auth.captcha import CaptchaUnavailable

log = get_logger(__name__)

DEFAULT_TIMEOUT_S = 5.0


async def post_form(url: str, form: dict[str, str], *, timeout_s: float, provider: str) -> dict[str, Any]:
    """POST `form` (x-www-form-urlencoded) to `url`; the decoded JSON object of a 200 answer.

    A client per call: verifications are rare (only after failures or on guarded routes) and the
    service has no stop hook to close a shared one. TLS is verified (httpx's default) and a redirect
    is an error rather than followed: a verify endpoint has no business sending us elsewhere.
    """
    try:
        async with httpx.AsyncClient(timeout=timeout_s, follow_redirects=False, verify=True) as client:
            response = await client.post(url, data=form, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        log.warning("captcha provider unreachable", provider=provider, error=type(exc).__name__)
        raise CaptchaUnavailable(f"{provider}: {type(exc).__name__}") from None
    if response.status_code != 200:
        log.warning("captcha provider refused the call", provider=provider, status=response.status_code)
        raise CaptchaUnavailable(f"{provider}: HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        log.warning("captcha provider answered nonsense", provider=provider)
        raise CaptchaUnavailable(f"{provider}: not a JSON object")
    return body


def error_codes(body: dict[str, Any], provider: str) -> list[str]:
    """The `error-codes` list of an hCaptcha / reCAPTCHA answer (absent = none)."""
    codes = body.get("error-codes", [])
    if not isinstance(codes, list) or not all(isinstance(code, str) for code in codes):
        raise CaptchaUnavailable(f"{provider}: malformed error-codes")
    return codes
