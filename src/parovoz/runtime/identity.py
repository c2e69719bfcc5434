"""Service identity in both run modes: each service's `ServiceCredentials` and where tokens come from.

- A service other than Auth asks Auth's `IssueServiceToken` with its secret, over a channel of its
  own that carries no token (the method is public: it is how a token is had at all).
- Auth signs its own (`ServiceSpec.service_token_source`), bound once its context exists.
- Embedded mode makes a random secret per service at every start (kept in memory only) and hands
  Auth their SHA-256 through the settings; distributed mode reads `PAROVOZ_SERVICE_SECRET` (and
  Auth `PAROVOZ_AUTH_SERVICE_CREDENTIALS`), made with `parovoz admin service-credential NAME`.
- The gateway holds no credential: it only reads Auth's public keys (`GetJwks`, a public method).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC

import grpc

from parovoz.chassis.config import Settings
from parovoz.chassis.obs.logging import get_logger
from parovoz.chassis.security.service_credentials import (
    ServiceCredentials,
    TokenFetch,
    credential_line,
    new_service_secret,
)
from parovoz.chassis.security.tokens import IssuedToken
from parovoz.chassis.service import ServiceContext, ServiceSpec
from parovoz.protos.platform.auth.v1 import auth_pb2, auth_pb2_grpc

log = get_logger(__name__)

SECRET_SETTING = "SERVICE_SECRET"
AUTH_CREDENTIALS_SETTING = "AUTH_SERVICE_CREDENTIALS"


def token_from_auth(channel: grpc.aio.Channel, service: str, secret: str) -> TokenFetch:
    """A token source asking Auth's `IssueServiceToken` over `channel` (one without credentials)."""
    stub = auth_pb2_grpc.AuthServiceStub(channel)

    async def fetch() -> IssuedToken:
        reply = await stub.IssueServiceToken(
            auth_pb2.IssueServiceTokenRequest(service=service, secret=secret), timeout=3.0
        )
        return IssuedToken(reply.token, "", reply.expires_at.ToDatetime(tzinfo=UTC))

    return fetch


def service_credentials(
    spec: ServiceSpec, bootstrap: grpc.aio.Channel, secret: str | None
) -> ServiceCredentials:
    """The credentials `spec`'s channels present; Auth's own source is bound by `bind_own_source`."""
    credentials = ServiceCredentials(spec.name)
    if spec.service_token_source is None:
        if secret:
            credentials.bind(token_from_auth(bootstrap, spec.name, secret))
        else:
            log.warning(
                "no PAROVOZ_SERVICE_SECRET: this service's gRPC calls to other services will fail",
                service=spec.name,
            )
    return credentials


def bind_own_source(credentials: ServiceCredentials, spec: ServiceSpec, ctx: ServiceContext) -> None:
    """For a service that signs its own tokens (Auth), once its context exists."""
    if spec.service_token_source is not None:
        credentials.bind(spec.service_token_source(ctx))


def embedded_secrets(specs: Iterable[ServiceSpec]) -> dict[str, str]:
    """A fresh secret for every service that asks Auth for its tokens (never written anywhere)."""
    return {spec.name: new_service_secret() for spec in specs if spec.service_token_source is None}


def with_service_credentials(settings: Settings, secrets: dict[str, str]) -> Settings:
    """`settings` whose `AUTH_SERVICE_CREDENTIALS` also lists these secrets' digests (ours win)."""
    entries: dict[str, str] = {}
    for entry in (settings.get(AUTH_CREDENTIALS_SETTING) or "").split(","):
        name = entry.strip().partition(":")[0].strip()
        if name:
            entries[name] = entry.strip()
    for name, secret in secrets.items():
        entries[name] = credential_line(name, secret)
    env = {**settings.env, AUTH_CREDENTIALS_SETTING: ",".join(entries.values())}
    return replace(settings, env=env)
