"""Distributed mode: `parovoz serve <service>` runs one service (or the gateway) as its own process.

Everything comes from `PAROVOZ_*` variables: the service's PostgreSQL URL, Kafka bootstrap servers,
Redis, peer gRPC addresses (`PAROVOZ_<PEER>_GRPC`) and, for the gateway, the services' HTTP base
URLs (`PAROVOZ_<SERVICE>_HTTP`). The process keeps nothing that another replica would need.
"""

from __future__ import annotations

from parovoz.chassis.config import Settings
from parovoz.chassis.events.brokers.kafka import KafkaBroker
from parovoz.chassis.obs.logging import get_logger
from parovoz.chassis.rpc.server import bind, create_server
from parovoz.chassis.security.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from parovoz.chassis.security.revocation import revocation_list
from parovoz.chassis.security.tokens import JwksTokenVerifier
from parovoz.gateway.app import Gateway
from parovoz.gateway.upstreams import HttpUpstream
from parovoz.runtime.host import ServiceHost
from parovoz.runtime.http import serve_http
from parovoz.runtime.identity import SECRET_SETTING, bind_own_source, service_credentials
from parovoz.runtime.loop import run
from parovoz.runtime.peers import jwks_from_auth, open_channels
from parovoz.runtime.registry import service_specs
from parovoz.runtime.routes import gateway_routes

log = get_logger("parovoz.serve")


def rate_limiter(settings: Settings) -> RateLimiter:
    """Redis-backed limits shared by replicas; in memory only when no Redis is configured."""
    if settings.redis_url:
        return RedisRateLimiter(settings.redis_url)
    log.warning("PAROVOZ_REDIS_URL not set: rate limits are per process")
    return MemoryRateLimiter()


async def serve_service(name: str, settings: Settings) -> None:
    spec = service_specs()[name]
    broker = KafkaBroker(settings.kafka_bootstrap, idempotence=settings.kafka_idempotence, client_id=name)
    await broker.start()
    addresses = {peer: settings.peer_grpc(peer) for peer in {"auth", *spec.rpc_peers}}
    if name == "auth" and "AUTH_GRPC" not in settings.env:
        addresses["auth"] = f"127.0.0.1:{settings.grpc_port}"
    # no service token on this one: Auth's public keys and the service token itself come over it
    bootstrap = open_channels({"auth": addresses["auth"]}, settings, caller=name, peers=())["auth"]
    credentials = service_credentials(spec, bootstrap, settings.get(SECRET_SETTING))
    channels = open_channels(addresses, settings, caller=name, peers=spec.rpc_peers, credentials=credentials)
    revocations = revocation_list(settings)
    await revocations.start()
    verifier = JwksTokenVerifier(jwks_from_auth(bootstrap), revocations=revocations)
    limiter = rate_limiter(settings)
    host = ServiceHost(
        spec=spec,
        settings=settings,
        database_url=settings.database_url(name),
        broker=broker,
        tokens=verifier,
        limiter=limiter,
        channels=channels,
        seed_demo=settings.demo_data,
        revocations=revocations,
    )
    bind_own_source(credentials, spec, host.ctx)
    server, _health = create_server(host.grpc_registrations(), settings, service_name=name, tokens=verifier)
    port = bind(server, settings.grpc_host, settings.grpc_port)
    await server.start()
    await host.start()
    await verifier.start()
    log.info("serving", service=name, http=settings.http_port, grpc=port)
    try:
        await serve_http(host.app, settings.http_host, settings.http_port)
    finally:
        await verifier.close()
        await host.stop()
        await server.stop(grace=5)
        for channel in [bootstrap, *channels.values()]:
            await channel.close()
        await broker.stop()
        await limiter.close()
        await revocations.close()


async def serve_gateway(settings: Settings) -> None:
    specs = service_specs()
    upstreams = {}
    for name in specs:
        base = settings.peer_http(name)
        if base:
            upstreams[name] = HttpUpstream(base)
    missing = sorted(set(specs) - set(upstreams))
    if missing:
        log.warning("no PAROVOZ_<SERVICE>_HTTP for some services; their routes answer 503", services=missing)
    # No service credential: the gateway only reads Auth's public keys (GetJwks is a public method).
    channels = open_channels({"auth": settings.peer_grpc("auth")}, settings, caller="gateway", peers=())
    revocations = revocation_list(settings)
    await revocations.start()
    verifier = JwksTokenVerifier(jwks_from_auth(channels["auth"]), revocations=revocations)
    await verifier.start()
    limiter = rate_limiter(settings)
    gateway = Gateway(
        gateway_routes(specs.values()),
        upstreams,
        verifier=verifier,
        limiter=limiter,
        settings=settings,
    )
    try:
        await serve_http(gateway, settings.http_host, settings.http_port)
    finally:
        await gateway.aclose()
        await verifier.close()
        await revocations.close()
        for channel in channels.values():
            await channel.close()


def serve(name: str) -> None:
    settings = Settings.from_env()
    if name == "gateway":
        run(serve_gateway(settings))
    elif name in service_specs():
        run(serve_service(name, settings))
    else:
        raise SystemExit(f"unknown service {name!r}; known: gateway, {', '.join(service_specs())}")
