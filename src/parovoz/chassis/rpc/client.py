"""Channels to peer services: context metadata, a default deadline, retries for idempotent methods.

Every call carries `x-request-id`, `x-correlation-id`, `accept-language`, `x-caller-service`, the
calling service's token as `authorization: Bearer <service token>` (when the channel has
`ServiceCredentials`) and, when acting for a user, `x-user-token: <user token>` (CONTRACTS.md,
gRPC). A call without a deadline gets the channel's default one. Only methods listed as idempotent
are retried (on UNAVAILABLE, through gRPC's own retry policy), so a non-idempotent call never runs
twice.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from parovoz.chassis.config import Settings
from parovoz.chassis.errors import ApiError
from parovoz.chassis.obs.logging import get_logger
from parovoz.chassis.rpc.errors import rich_status
from parovoz.chassis.rpc.metadata import AUTHORIZATION, outgoing_metadata
from parovoz.chassis.security.service_credentials import ServiceCredentials, ServiceTokenUnavailable

log = get_logger(__name__)
HEALTH_METHOD_PREFIX = "/grpc.health.v1.Health/"

RETRY_MAX_ATTEMPTS = 4
RETRY_POLICY = {
    "maxAttempts": RETRY_MAX_ATTEMPTS,
    "initialBackoff": "0.05s",
    "maxBackoff": "0.5s",
    "backoffMultiplier": 2,
    "retryableStatusCodes": ["UNAVAILABLE"],
}


def _with_context(details: grpc.aio.ClientCallDetails, caller: str, default_timeout: float) -> Any:
    metadata = grpc.aio.Metadata(*(details.metadata or ()))
    for key, value in outgoing_metadata(caller):
        # metadata the caller set explicitly wins over the context's
        if key not in metadata:
            metadata.add(key, value)
    timeout = details.timeout if details.timeout is not None else default_timeout
    return details._replace(metadata=metadata, timeout=timeout)


async def _with_service_token(details: Any, credentials: ServiceCredentials | None) -> Any:
    """`details` plus `authorization: Bearer <service token>` (health checks need none)."""
    method = details.method.decode() if isinstance(details.method, bytes) else str(details.method)
    if credentials is None or method.startswith(HEALTH_METHOD_PREFIX) or AUTHORIZATION in details.metadata:
        return details
    try:
        token = await credentials.token()
    except ServiceTokenUnavailable as exc:
        log.error("service_token_unavailable", service=credentials.service, method=method, error=repr(exc))
        # an error like the peer's own, so callers handle it as any failed call (api_error_from)
        status = rich_status(ApiError(503, "SERVICE_TOKEN_UNAVAILABLE"), service=credentials.service)
        raise grpc.aio.AioRpcError(
            status.code,
            grpc.aio.Metadata(),
            grpc.aio.Metadata(*status.trailing_metadata),
            details=status.details,
        ) from exc
    details.metadata.add(AUTHORIZATION, f"Bearer {token}")
    return details


class _ContextUnaryUnary(grpc.aio.UnaryUnaryClientInterceptor):
    def __init__(self, caller: str, default_timeout: float, credentials: ServiceCredentials | None) -> None:
        self._caller = caller
        self._default_timeout = default_timeout
        self._credentials = credentials

    async def intercept_unary_unary(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
        details = _with_context(client_call_details, self._caller, self._default_timeout)
        return await continuation(await _with_service_token(details, self._credentials), request)


class _ContextUnaryStream(grpc.aio.UnaryStreamClientInterceptor):
    # Streams (e.g. health Watch) get the metadata but no default deadline: they are long-lived.
    def __init__(self, caller: str, credentials: ServiceCredentials | None) -> None:
        self._caller = caller
        self._credentials = credentials

    async def intercept_unary_stream(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
        details = _with_context(client_call_details, self._caller, 0.0)
        if client_call_details.timeout is None:
            details = details._replace(timeout=None)
        return await continuation(await _with_service_token(details, self._credentials), request)


def service_config(idempotent_methods: Sequence[str]) -> str:
    """gRPC service config (JSON) with the retry policy on each `pkg.Service/Method` listed."""
    names = []
    for full_method in idempotent_methods:
        service, sep, method = full_method.lstrip("/").partition("/")
        if not sep or not service or not method or "/" in method:
            raise ValueError(f"expected 'package.Service/Method', got {full_method!r}")
        names.append({"service": service, "method": method})
    config: dict[str, Any] = {"methodConfig": []}
    if names:
        config["methodConfig"].append({"name": names, "retryPolicy": RETRY_POLICY})
    return json.dumps(config)


def channel_credentials(settings: Settings) -> grpc.ChannelCredentials | None:
    """TLS credentials when a CA (or a certificate) is configured; a client certificate with a CA."""
    if not (settings.grpc_tls_ca or settings.grpc_tls_cert):
        return None
    ca = Path(settings.grpc_tls_ca).read_bytes() if settings.grpc_tls_ca else None
    key = cert = None
    # the client presents its own certificate in mTLS deployments, the ones with a shared CA
    if ca is not None and settings.grpc_tls_cert and settings.grpc_tls_key:
        key = Path(settings.grpc_tls_key).read_bytes()
        cert = Path(settings.grpc_tls_cert).read_bytes()
    return grpc.ssl_channel_credentials(root_certificates=ca, private_key=key, certificate_chain=cert)


def open_channel(
    address: str,
    settings: Settings,
    *,
    caller: str,
    idempotent_methods: Sequence[str] = (),
    default_timeout: float = 2.0,
    credentials: ServiceCredentials | None = None,
) -> grpc.aio.Channel:
    """A channel to `address` (host:port) with the chassis interceptors; close it with `await .close()`.

    With `credentials`, every call (health checks aside) presents the service's token; without,
    only public methods (Auth's `GetJwks`, `IssueServiceToken`, health) will be answered."""
    options = [
        ("grpc.enable_retries", 1),
        ("grpc.service_config", service_config(idempotent_methods)),
    ]
    interceptors = [
        _ContextUnaryUnary(caller, default_timeout, credentials),
        _ContextUnaryStream(caller, credentials),
    ]
    credentials = channel_credentials(settings)
    if credentials is None:
        return grpc.aio.insecure_channel(address, options=options, interceptors=interceptors)
    return grpc.aio.secure_channel(address, credentials, options=options, interceptors=interceptors)


# `timeout` is part of the interface services code against (docs/DESIGN.md), hence the noqa.
async def wait_ready(channel: grpc.aio.Channel, timeout: float) -> None:  # noqa: ASYNC109
    """Wait until the channel connects; raises TimeoutError after `timeout` seconds."""
    await asyncio.wait_for(channel.channel_ready(), timeout)


async def check_health(channel: grpc.aio.Channel, service: str = "", *, deadline: float = 1.0) -> bool:
    """True when the peer's health service reports `service` ("" = the whole server) SERVING."""
    stub = health_pb2_grpc.HealthStub(channel)
    try:
        response = await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=deadline)
    except grpc.aio.AioRpcError:
        return False
    return response.status == health_pb2.HealthCheckResponse.SERVING
