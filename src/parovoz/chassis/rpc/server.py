"""The gRPC server every service runs: interceptors, the health service, TLS.

`create_server` installs one interceptor that, for each call, binds the caller's metadata to the
chassis context variables, checks the caller's service token (and the user token it forwards, see
identity.py), turns an `ApiError` into the rich status, hides any other exception behind a generic
INTERNAL, and records the call's duration. `bind` listens with TLS when the
settings name a certificate (mTLS when they name a CA too).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer as AsyncHealthServicer
from prometheus_client import Histogram

from parovoz.chassis.config import Settings
from parovoz.chassis.errors import ApiError
from parovoz.chassis.rpc.errors import abort, grpc_code_for
from parovoz.chassis.rpc.identity import CallAuthenticator, access_rules
from parovoz.chassis.rpc.metadata import bind_incoming, serving_service
from parovoz.chassis.security.tokens import JwksTokenVerifier
from parovoz.chassis.service import GrpcRegistration

log = logging.getLogger("parovoz.rpc")

HEALTH_SERVICE_NAME = "grpc.health.v1.Health"

SERVER_HANDLED_SECONDS = Histogram(
    "parovoz_grpc_server_handled_seconds",
    "Duration of gRPC calls handled by this process, by service, method and status code.",
    ("service", "method", "code"),
)

# Server → its credentials (None = plaintext), recorded by create_server and used by bind.
_CREDENTIALS: weakref.WeakKeyDictionary[grpc.aio.Server, grpc.ServerCredentials | None] = (
    weakref.WeakKeyDictionary()
)


class HealthServicer(AsyncHealthServicer):
    """The standard health service (grpc.health.v1), starting with the given services SERVING."""

    def __init__(self, serving: Iterable[str] = ()) -> None:
        super().__init__()
        # No watcher can exist yet, so a direct write needs none of `set`'s notifications
        # (and lets create_server stay synchronous).
        for name in ("", *serving):
            self._server_status[name] = health_pb2.HealthCheckResponse.SERVING

    async def set_serving(self, name: str) -> None:
        await self.set(name, health_pb2.HealthCheckResponse.SERVING)

    async def set_not_serving(self, name: str) -> None:
        await self.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)


UnaryBehavior = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]


def _code_of(context: grpc.aio.ServicerContext) -> grpc.StatusCode:
    try:
        code = context.code()
    except Exception:  # older grpcio without ServicerContext.code()
        return grpc.StatusCode.OK
    return code if isinstance(code, grpc.StatusCode) else grpc.StatusCode.OK


class ChassisServerInterceptor(grpc.aio.ServerInterceptor):
    """Context from metadata, ApiError → rich status, other exceptions → INTERNAL, metrics."""

    def __init__(self, service_name: str, authenticator: CallAuthenticator) -> None:
        self._service_name = service_name
        self._authenticator = authenticator

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = await continuation(handler_call_details)
        # Streaming handlers (only the health Watch today) pass through untouched: every
        # platform method is unary, and wrapping streams would change their semantics.
        if handler is None or handler.unary_unary is None:
            return handler
        method = handler_call_details.method
        behavior = self._wrap(handler.unary_unary, method)
        return grpc.unary_unary_rpc_method_handler(
            behavior,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    def _wrap(self, inner: Callable[..., Any], method: str) -> UnaryBehavior:
        fallback_service = self._service_name
        authenticator = self._authenticator

        async def behavior(request: Any, context: grpc.aio.ServicerContext) -> Any:
            metadata = context.invocation_metadata() or ()
            undo = bind_incoming(metadata, method)
            undo_identity = None
            service = serving_service.get() or fallback_service
            started = time.perf_counter()
            code = grpc.StatusCode.OK
            try:
                undo_identity = await authenticator.authenticate(method, metadata)
                result = inner(request, context)
                if inspect.isawaitable(result):
                    result = await result
                code = _code_of(context)
                return result
            except ApiError as error:
                code = grpc_code_for(error.status)
                await abort(context, error)
            except asyncio.CancelledError:
                # the caller went away or its deadline passed; gRPC already answered for us
                expired = context.time_remaining() is not None and context.time_remaining() <= 0
                code = grpc.StatusCode.DEADLINE_EXCEEDED if expired else grpc.StatusCode.CANCELLED
                raise
            except grpc.aio.AbortError:
                # the servicer aborted on its own: its status stands
                code = _code_of(context)
                raise
            except Exception:
                code = grpc.StatusCode.INTERNAL
                log.exception("unhandled error in gRPC method %s", method)
                await abort(context, ApiError(500, "INTERNAL_ERROR"))
            finally:
                SERVER_HANDLED_SECONDS.labels(service, method, code.name).observe(
                    time.perf_counter() - started
                )
                if undo_identity is not None:
                    undo_identity()
                undo()

        return behavior


def create_server(
    registrations: Sequence[GrpcRegistration],
    settings: Settings,
    *,
    service_name: str,
    tokens: JwksTokenVerifier | None = None,
) -> tuple[grpc.aio.Server, HealthServicer]:
    """A server hosting the registrations and the health service; listen with `bind`.

    `tokens` holds Auth's public keys: service tokens (and forwarded user tokens) are checked with
    them. Without it every call but the public ones is refused (UNAUTHENTICATED)."""
    authenticator = CallAuthenticator(tokens, access_rules(registrations))
    server = grpc.aio.server(
        interceptors=[ChassisServerInterceptor(service_name, authenticator)],
        # never share a port with another process silently
        options=[("grpc.so_reuseport", 0)],
    )
    for registration in registrations:
        registration.add_to_server(registration.servicer, server)
    health = HealthServicer(registration.name for registration in registrations)
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    _CREDENTIALS[server] = server_credentials(settings)
    return server, health


def server_credentials(settings: Settings) -> grpc.ServerCredentials | None:
    """TLS credentials when a certificate and key are set; client certificates required with a CA."""
    if not (settings.grpc_tls_cert and settings.grpc_tls_key):
        return None
    key = Path(settings.grpc_tls_key).read_bytes()
    cert = Path(settings.grpc_tls_cert).read_bytes()
    ca = Path(settings.grpc_tls_ca).read_bytes() if settings.grpc_tls_ca else None
    return grpc.ssl_server_credentials(
        [(key, cert)], root_certificates=ca, require_client_auth=ca is not None
    )


def bind(server: grpc.aio.Server, host: str, port: int) -> int:
    """Listen on host:port (0 picks a free port); returns the bound port. TLS as configured."""
    address = f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"
    credentials = _CREDENTIALS.get(server)
    bound = (
        server.add_secure_port(address, credentials)
        if credentials is not None
        else server.add_insecure_port(address)
    )
    if bound == 0:
        raise OSError(f"cannot listen for gRPC on {address}")
    return bound
