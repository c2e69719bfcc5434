"""The HTTP side shared by the provider adapters: one client per provider, answers validated."""

from __future__ import annotations

from typing import Any

import httpx

from parovoz.chassis.obs.logging import get_logger
from parovoz.services.auth.domain import external_errors
from parovoz.services.auth.domain.external import ExternalProfile

log = get_logger(__name__)

TIMEOUT = httpx.Timeout(10.0, connect=5.0)
# A provider's answer is a few hundred bytes; anything huge is not one.
MAX_ANSWER_BYTES = 256 * 1024


def provider_http() -> httpx.AsyncClient:
    """TLS verified (httpx's default, never turned off), redirects not followed, bounded waits."""
    return httpx.AsyncClient(
        timeout=TIMEOUT, follow_redirects=False, verify=True, headers={"Accept": "application/json"}
    )


async def call(http: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    """(status, JSON object) of one call; 502 OAUTH_PROVIDER_ERROR when unreachable or not JSON."""
    try:
        response = await http.request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        log.warning("oauth_provider_unreachable", url=url.split("?", 1)[0], error=type(exc).__name__)
        raise external_errors.provider_error() from None
    if len(response.content) > MAX_ANSWER_BYTES or 300 <= response.status_code < 400:
        log.warning("oauth_provider_bad_answer", url=url.split("?", 1)[0], status=response.status_code)
        raise external_errors.provider_error()
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        log.warning("oauth_provider_not_json", url=url.split("?", 1)[0], status=response.status_code)
        raise external_errors.provider_error()
    return response.status_code, body


def text(body: dict[str, Any], key: str, *, required: bool = True, max_len: int = 4096) -> str | None:
    """A string (or integer, as ids come either way) field of a provider's answer, validated."""
    value = body.get(key)
    if isinstance(value, bool):
        value = None
    if isinstance(value, int):
        value = str(value)
    if isinstance(value, str) and value.strip() and len(value) <= max_len:
        return value.strip()
    if value in (None, "") and not required:
        return None
    log.warning("oauth_provider_field_invalid", field=key)
    raise external_errors.provider_error()


def profile_from(provider: str, external_id: str | None, user: dict[str, Any]) -> ExternalProfile:
    """The profile both providers answer with (names and e-mail under the same keys). Neither says
    whether the e-mail is verified, so it never counts as verified."""
    return ExternalProfile(
        provider=provider,
        external_id=external_id or "",
        first_name=text(user, "first_name", required=False, max_len=256),
        last_name=text(user, "last_name", required=False, max_len=256),
        email=text(user, "email", required=False, max_len=254),
        email_verified=False,
    )
