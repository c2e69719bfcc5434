"""Who is calling a gRPC method: the verified service and, when it acts for one, the end user.

Every call presents `authorization: Bearer <service token>` (see security/service_tokens.py); the
server checks it before the servicer runs, except on methods declared `@public_method` (the health
service always is) — the ones a process needs before it can hold a token (Auth's `GetJwks`,
`IssueServiceToken`). A call acting for a user also carries the user's access token in
`x-user-token`; it is verified like at the REST edge and then the servicer sees both:

    from parovoz.chassis.rpc.identity import allowed_callers, calling_service, calling_user

    class AccountServicer(...):
        @allowed_callers("admin")          # any other service: PERMISSION_DENIED
        async def SetAccountStatus(self, request, context):
            staff = calling_user.get()     # Principal | None
            ...
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

from parovoz.chassis import context
from parovoz.chassis.obs.logging import get_logger
from parovoz.chassis.rpc.metadata import AUTHORIZATION, caller_service
from parovoz.chassis.security.principal import Principal
from parovoz.chassis.security.service_tokens import (
    ServiceIdentity,
    ServiceTokenVerifier,
    caller_not_allowed,
    invalid_service_token,
    service_token_missing,
)
from parovoz.chassis.security.tokens import JwksTokenVerifier
from parovoz.chassis.service import GrpcRegistration

log = get_logger(__name__)

HEALTH_PREFIX = "/grpc.health.v1.Health/"
_ACCESS_ATTRIBUTE = "__parovoz_rpc_access__"

# The verified calling service of the current call (None on public methods).
calling_service: ContextVar[ServiceIdentity | None] = ContextVar("parovoz_rpc_calling_service", default=None)
# The end user the current call acts for, verified from `x-user-token` (None when it acts for nobody).
calling_user: ContextVar[Principal | None] = ContextVar("parovoz_rpc_calling_user", default=None)

Method = TypeVar("Method", bound=Callable[..., Any])


@dataclass(frozen=True)
class MethodAccess:
    public: bool = False
    callers: frozenset[str] | None = None  # None: any authenticated service


def public_method(method: Method) -> Method:
    """Callable without a service token (public data, or how a service gets its token)."""
    setattr(method, _ACCESS_ATTRIBUTE, MethodAccess(public=True))
    return method


def allowed_callers(*services: str) -> Callable[[Method], Method]:
    """Only these services may call the method; any other gets PERMISSION_DENIED."""
    if not services:
        raise ValueError("allowed_callers needs at least one service name")

    def mark(method: Method) -> Method:
        setattr(method, _ACCESS_ATTRIBUTE, MethodAccess(callers=frozenset(services)))
        return method

    return mark


def access_rules(registrations: Iterable[GrpcRegistration]) -> dict[str, MethodAccess]:
    """`/pkg.Service/Method` → its declared access, read from the servicers' decorated methods."""
    rules: dict[str, MethodAccess] = {}
    for registration in registrations:
        for name in dir(type(registration.servicer)):
            access = getattr(getattr(type(registration.servicer), name, None), _ACCESS_ATTRIBUTE, None)
            if isinstance(access, MethodAccess):
                rules[f"/{registration.name}/{name}"] = access
    return rules


def _bearer(metadata: Sequence[Any]) -> str | None:
    for key, value in metadata:
        if key == AUTHORIZATION:
            text = value.decode() if isinstance(value, bytes) else str(value)
            scheme, _, token = text.partition(" ")
            return token.strip() if scheme.lower() == "bearer" and token.strip() else ""
    return None


class CallAuthenticator:
    """The server side: checks each call's service token, the method's callers and the user token.

    Without a key source (`tokens=None`) nothing can be verified, so every non-public call is refused.
    """

    def __init__(self, tokens: JwksTokenVerifier | None, rules: dict[str, MethodAccess]) -> None:
        self._users = tokens
        self._services = ServiceTokenVerifier(tokens) if tokens is not None else None
        self._rules = rules
        if tokens is None:
            log.warning("grpc_server_without_token_keys", detail="every non-public call will be refused")

    async def authenticate(self, method: str, metadata: Sequence[Any]) -> Callable[[], None]:
        """Set `calling_service` / `calling_user` for the call (raises ApiError); returns the undo."""
        rule = self._rules.get(method, MethodAccess(public=method.startswith(HEALTH_PREFIX)))
        if rule.public:
            # a public method trusts no claim of the caller: no name from `x-caller-service` either
            return _bind(None, None)
        token = _bearer(metadata)
        if token is None:
            raise service_token_missing()
        if not token or self._services is None:
            raise invalid_service_token()
        identity = await self._services.verify_async(token)
        if rule.callers is not None and identity.name not in rule.callers:
            raise caller_not_allowed(identity.name)
        user: Principal | None = None
        user_token = context.user_token.get()
        if user_token and self._users is not None:
            # an invalid user token fails the call (401 INVALID_TOKEN): acting for an unproven user
            # would be worse than failing
            user = await self._users.verify_async(user_token)
        return _bind(identity, user)


def _bind(identity: ServiceIdentity | None, user: Principal | None) -> Callable[[], None]:
    resets = [
        (calling_service, calling_service.set(identity)),
        (calling_user, calling_user.set(user)),
        (caller_service, caller_service.set(identity.name if identity is not None else None)),
    ]

    def undo() -> None:
        for var, token in reversed(resets):
            var.reset(token)  # type: ignore[attr-defined]

    return undo
