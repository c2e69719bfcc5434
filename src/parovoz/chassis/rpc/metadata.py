"""gRPC metadata names and their mapping to and from the chassis context variables.

The client side turns the current context (request id, correlation id, language, the end user's
token) into metadata; the server side turns metadata back into the same context variables, so a
servicer (and anything it logs, emits or calls) sees the operation it is part of. `authorization`
carries the calling service's own token (client.py adds it, identity.py checks it); the end user's
token, when a call acts for one, travels in `x-user-token`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from typing import Any

from parovoz.chassis import context
from parovoz.chassis.errors import DEFAULT_LANGUAGE, LANGUAGES

REQUEST_ID = "x-request-id"
CORRELATION_ID = "x-correlation-id"
ACCEPT_LANGUAGE = "accept-language"
AUTHORIZATION = "authorization"
USER_TOKEN = "x-user-token"
CALLER_SERVICE = "x-caller-service"

# Name of the service that made the current incoming call: the verified name of its service token
# once the server has checked it (identity.py), never just the `x-caller-service` claim.
caller_service: ContextVar[str | None] = ContextVar("parovoz_rpc_caller_service", default=None)
# Service whose servicer handles the current call ("auth" for platform.auth.v1.AuthService);
# it names the domain of the errors the call returns.
serving_service: ContextVar[str | None] = ContextVar("parovoz_rpc_serving_service", default=None)


def service_of_method(method: str) -> str | None:
    """`/platform.auth.v1.AuthService/GetUser` → `auth`; None for methods outside `platform.*`."""
    full_service = method.lstrip("/").split("/", 1)[0]
    parts = full_service.split(".")
    if len(parts) >= 3 and parts[0] == "platform":
        return parts[1]
    return None


def preferred_language(header: str | None) -> str:
    """The supported language the `Accept-Language` value prefers most (ru when none fits)."""
    if not header:
        return DEFAULT_LANGUAGE
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, weight = part.strip().partition(";")
        quality = 1.0
        weight = weight.strip()
        if weight.startswith("q="):
            try:
                quality = float(weight[2:])
            except ValueError:
                quality = 0.0
        primary = tag.strip().split("-", 1)[0].lower()
        if primary in LANGUAGES and quality > 0:
            # position keeps the caller's order among equal weights
            ranked.append((-quality, position, primary))
    return min(ranked)[2] if ranked else DEFAULT_LANGUAGE


def outgoing_metadata(caller: str) -> list[tuple[str, str]]:
    """Metadata an outgoing call carries, taken from the current context."""
    pairs = [(CALLER_SERVICE, caller), (ACCEPT_LANGUAGE, context.language.get())]
    request_id = context.request_id.get()
    if request_id:
        pairs.append((REQUEST_ID, request_id))
    correlation_id = context.correlation_id.get() or request_id
    if correlation_id:
        pairs.append((CORRELATION_ID, correlation_id))
    user_token = context.user_token.get()
    if user_token:
        pairs.append((USER_TOKEN, user_token))
    return pairs


def _first(metadata: Iterable[Any], key: str) -> str | None:
    for entry_key, value in metadata:
        if entry_key == key:
            return value.decode() if isinstance(value, bytes) else str(value)
    return None


def bind_incoming(metadata: Iterable[Any] | None, method: str) -> Callable[[], None]:
    """Set the context variables from an incoming call's metadata; returns a function undoing it."""
    entries = list(metadata or ())
    request_id = _first(entries, REQUEST_ID) or str(uuid.uuid4())
    user_token = (_first(entries, USER_TOKEN) or "").strip() or None
    resets: list[Callable[[], None]] = []

    def put(var: ContextVar[Any], value: Any) -> None:
        token_ = var.set(value)
        resets.append(lambda: var.reset(token_))

    put(context.request_id, request_id)
    put(context.correlation_id, _first(entries, CORRELATION_ID) or request_id)
    put(context.user_token, user_token)
    put(context.language, preferred_language(_first(entries, ACCEPT_LANGUAGE)))
    # the claim only, until the service token is verified (identity.py replaces it)
    put(caller_service, _first(entries, CALLER_SERVICE))
    put(serving_service, service_of_method(method))

    def undo() -> None:
        for reset in reversed(resets):
            reset()

    return undo
