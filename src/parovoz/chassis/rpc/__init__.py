"""gRPC for the services: one server per process, channels to peers, errors as google.rpc.Status.

How a service uses it:
- Serve: its `ServiceSpec.grpc(ctx)` returns `GrpcRegistration(name, servicer, add_to_server)`s;
  the runtime calls `server, health = create_server(regs, settings, service_name="auth")`,
  `port = bind(server, host, port)` and `await server.start()`. Servicers are `async`, raise
  `ApiError` like any other layer (the caller gets the status code plus an `ErrorInfo` whose
  reason is the error code) and read `chassis.context` (request id, correlation id, language,
  user token) and `rpc.metadata.caller_service`, all set from the call's metadata.
- Identity: every call presents the calling service's token (`authorization: Bearer`), checked by
  the server against Auth's keys (`create_server(..., tokens=jwks_verifier)`) before the servicer
  runs; servicers read `identity.calling_service` / `identity.calling_user` and declare
  `@identity.public_method` or `@identity.allowed_callers("admin")` (see identity.py).
- Call: `channel = open_channel(settings.peer_grpc("auth"), settings, caller="library",
  idempotent_methods=["platform.auth.v1.AuthService/GetUser"], credentials=service_credentials)`
  (the runtime builds these channels: `ctx.channel("auth")`), then the generated stub over it.
  The context travels as metadata, each call gets a default deadline, idempotent methods are
  retried on UNAVAILABLE. Turn a failure into the error to rethrow with
  `except grpc.aio.AioRpcError as exc: raise api_error_from(exc, service="auth")`.
- TLS: `PAROVOZ_GRPC_TLS_CERT`/`_KEY` make the server speak TLS (mTLS with `PAROVOZ_GRPC_TLS_CA`);
  a CA on the client side makes its channels verify the server (and present its own certificate).
- Health: the standard grpc.health.v1 service; `await check_health(channel)` on the client side.
"""

from parovoz.chassis.rpc.client import check_health, open_channel, wait_ready
from parovoz.chassis.rpc.errors import abort, api_error_from, grpc_code_for, http_status_for, rich_status
from parovoz.chassis.rpc.metadata import caller_service
from parovoz.chassis.rpc.server import HealthServicer, bind, create_server

__all__ = [
    "HealthServicer",
    "abort",
    "api_error_from",
    "bind",
    "caller_service",
    "check_health",
    "create_server",
    "grpc_code_for",
    "http_status_for",
    "open_channel",
    "rich_status",
    "wait_ready",
]
