"""FastAPI dependencies for who is calling: `principal`, `optional_principal`, `require_roles`, `client_ip`.

Services verify the bearer token themselves even behind the gateway (CONTRACTS.md: authorization at
the gateway *and* in the service), with the verifier of `request.app.state.ctx.tokens`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Awaitable, Callable

from fastapi import Request

from parovoz.chassis import context
from parovoz.chassis.errors import ApiError, forbidden, unauthorized
from parovoz.chassis.security.principal import Principal

# RFC 6750 b64token; bounded so a huge header is refused before any crypto runs.
_BEARER = re.compile(r"[Bb][Ee][Aa][Rr][Ee][Rr] +([A-Za-z0-9\-._~+/]{1,8192}=*)")
_STATE_KEY = "parovoz_principal"


def _invalid_token() -> ApiError:
    return ApiError(401, "INVALID_TOKEN", headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


def bearer_token(authorization: str) -> str:
    """The token of an `Authorization: Bearer <token>` header; 401 `INVALID_TOKEN` when malformed."""
    match = _BEARER.fullmatch(authorization.strip())
    if match is None:
        raise _invalid_token()
    return match.group(1)


async def optional_principal(request: Request) -> Principal | None:
    """The verified caller, or None without an `Authorization` header (a bad token is still a 401)."""
    if _STATE_KEY in request.scope:
        return request.scope[_STATE_KEY]
    header = request.headers.get("authorization")
    found: Principal | None = None
    if header:
        token = bearer_token(header)
        found = await request.app.state.ctx.tokens.verify_async(token)
        context.user_token.set(token)  # outgoing gRPC calls act for this user
    request.scope[_STATE_KEY] = found  # one verification per request, however many dependencies ask
    return found


async def principal(request: Request) -> Principal:
    """The verified caller; 401 `UNAUTHORIZED` without a token, `INVALID_TOKEN` with a bad one."""
    found = await optional_principal(request)
    if found is None:
        raise unauthorized()
    return found


def require_roles(*roles: str) -> Callable[[Request], Awaitable[Principal]]:
    """`Depends(require_roles("admin", "support"))`: the caller, if they hold any of `roles` (else 403)."""
    if not roles:
        raise ValueError("require_roles needs at least one role")

    async def dependency(request: Request) -> Principal:
        caller = await principal(request)
        if not caller.has_any_role(*roles):
            raise forbidden()
        return caller

    dependency.__name__ = "require_" + "_or_".join(roles)
    return dependency


def client_ip(request: Request) -> str:
    """The end client's address: `X-Original-IP` from the gateway when valid, else the peer's."""
    forwarded = request.headers.get("x-original-ip")
    if forwarded:
        try:
            return str(ipaddress.ip_address(forwarded.strip()))
        except ValueError:
            pass
    return request.client.host if request.client else "unknown"
