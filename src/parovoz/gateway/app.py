"""The API gateway: one plain-ASGI callable in front of every service (MISSION.md: API Gateway).

Plain ASGI on purpose (PERFORMANCE.md): a framework's routing and request objects would cost more
than the whole hop budget. Per request the gateway makes one pass over the headers (dropping
identity headers a client could spoof), checks the bearer token, rate-limits by user or IP,
forwards to the upstream of the longest matching route prefix and decorates the response
(X-Request-ID, security headers, CORS, gzip). Its own errors use the contract's error format.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping

from parovoz.chassis.config import Settings
from parovoz.chassis.errors import ApiError, too_many_requests
from parovoz.chassis.obs.logging import get_logger
from parovoz.chassis.rest.errors import negotiate_language
from parovoz.chassis.security.ratelimit import RateLimiter
from parovoz.chassis.security.tokens import TokenVerifier
from parovoz.gateway.compression import GzipSend, accepts_gzip
from parovoz.gateway.docs import DocsSource, MergedOpenApi
from parovoz.gateway.edge import (
    ClientAddressResolver,
    CorsPolicy,
    RawHeaders,
    request_id_from,
    security_headers,
)
from parovoz.gateway.errors import UpstreamError
from parovoz.gateway.exchange import BodyLimit, CachedHttpMetrics, Exchange
from parovoz.gateway.own_routes import OwnRoutes
from parovoz.gateway.routes import Route, RouteTable
from parovoz.gateway.upstreams import (
    ClientDisconnected,
    Receive,
    Scope,
    Send,
    Upstream,
)

log = get_logger(__name__)

# Identity headers only the gateway may set: a client sending them is trying to impersonate.
_SPOOFABLE = frozenset({b"x-user-id", b"x-user-roles", b"x-original-ip", b"x-request-id"})
# Metric label values for methods; anything else is "OTHER" so clients cannot mint label values.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
DEFAULT_IP_LIMIT = 600  # requests per minute per client IP (anonymous)
DEFAULT_USER_LIMIT = 1200  # requests per minute per authenticated user
RATE_WINDOW_S = 60.0


class Gateway:
    """The ASGI application of the gateway (http + lifespan; websocket refused until a WS service exists)."""

    def __init__(
        self,
        routes: Iterable[Route] | RouteTable,
        upstreams: Mapping[str, Upstream],
        *,
        verifier: TokenVerifier,
        limiter: RateLimiter,
        settings: Settings,
        docs: DocsSource | None = None,
        readiness_timeout: float = 2.0,
    ) -> None:
        self.routes = routes if isinstance(routes, RouteTable) else RouteTable(routes)
        missing = [service for service in self.routes.services if service not in upstreams]
        if missing:
            raise ValueError(f"no upstream for routed services: {missing}")
        self.upstreams = dict(upstreams)
        self.verifier = verifier
        self.limiter = limiter
        self.settings = settings
        self.cors = CorsPolicy(settings.cors_origins)
        self.client_addresses = ClientAddressResolver.from_settings(settings)
        self.max_body = settings.max_body_bytes
        self.ip_limit = int(settings.get("GATEWAY_RATE_LIMIT") or DEFAULT_IP_LIMIT)
        self.user_limit = int(settings.get("GATEWAY_USER_RATE_LIMIT") or DEFAULT_USER_LIMIT)
        self._security_headers = security_headers(settings)
        self.docs = docs or MergedOpenApi(self.upstreams, self.routes)
        self.own_routes = OwnRoutes(self.upstreams, self.docs, readiness_timeout=readiness_timeout)
        self._observe = CachedHttpMetrics()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "websocket":
            await receive()  # websocket.connect
            await send({"type": "websocket.accept"})
            # 4404: no WebSocket service is routed yet (CONTRACTS.md reserves /api/v1/ws/{service}).
            await send({"type": "websocket.close", "code": 4404})
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def aclose(self) -> None:
        """Close every upstream's pooled connections."""
        for upstream in self.upstreams.values():
            try:
                await upstream.aclose()
            except Exception as exc:  # one failing close must not keep the others open
                log.warning("upstream_close_failed", error=repr(exc))

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started_at = time.perf_counter()
        forwarded: RawHeaders = []
        request_id_raw = authorization = origin = accept_encoding = accept_language = None
        forwarded_for = content_length = preflight_method = preflight_headers = None
        chunked = False
        for name, value in scope["headers"]:
            if name in _SPOOFABLE:
                if name == b"x-request-id":
                    request_id_raw = value
                continue
            if name == b"authorization":
                authorization = value
            elif name == b"origin":
                origin = value
            elif name == b"accept-encoding":
                accept_encoding = value
            elif name == b"accept-language":
                accept_language = value
            elif name == b"x-forwarded-for":
                forwarded_for = value
            elif name == b"content-length":
                content_length = value
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"access-control-request-method":
                preflight_method = value
            elif name == b"access-control-request-headers":
                preflight_headers = value
            forwarded.append((name, value))

        request_id = request_id_from(request_id_raw)
        language = negotiate_language(accept_language.decode("latin-1") if accept_language else None)
        method: str = scope["method"]
        path: str = scope["path"]
        extra: RawHeaders = [(b"x-request-id", request_id.encode("latin-1")), *self._security_headers]
        cross_origin_allowed = origin is not None and self.cors.allows(origin)
        is_preflight = method == "OPTIONS" and origin is not None and preflight_method is not None
        if cross_origin_allowed and not is_preflight:
            extra.extend(self.cors.response_headers(origin))  # type: ignore[arg-type]
        head = method == "HEAD"
        outbound = GzipSend(send) if not head and accepts_gzip(accept_encoding) else send
        exchange = Exchange(outbound, extra)
        route_label = "unmatched"
        try:
            if is_preflight:
                route_label = "preflight"
                if not cross_origin_allowed:
                    await exchange.error(ApiError(403, "FORBIDDEN"), language)
                    return
                await exchange.respond(204, self.cors.preflight_headers(origin, preflight_headers), b"")  # type: ignore[arg-type]
                return
            own = self.own_routes.match(path)
            if own is not None:
                route_label = own
                await self.own_routes.handle(own, scope, exchange, language, accept_encoding)
                return
            route = self.routes.match(path)
            if route is None:
                await exchange.error(ApiError(404, "ROUTE_NOT_FOUND"), language)
                return
            route_label = route.prefix
            await self._proxy(
                scope,
                receive,
                exchange,
                route,
                forwarded,
                language,
                request_id=request_id,
                authorization=authorization,
                forwarded_for=forwarded_for,
                content_length=content_length,
                chunked=chunked,
                language_given=accept_language is not None,
            )
        finally:
            label = method if method in _METHODS else "OTHER"
            self._observe("gateway", label, route_label, exchange.status, time.perf_counter() - started_at)

    async def _proxy(
        self,
        scope: Scope,
        receive: Receive,
        exchange: Exchange,
        route: Route,
        forwarded: RawHeaders,
        language: str,
        *,
        request_id: str,
        authorization: bytes | None,
        forwarded_for: bytes | None,
        content_length: bytes | None,
        chunked: bool,
        language_given: bool = True,
    ) -> None:
        if content_length is not None:
            try:
                declared = int(content_length)
            except ValueError:
                await exchange.error(ApiError(400, "BAD_REQUEST"), language)
                return
            if declared > self.max_body:
                await exchange.error(self._too_large(), language)
                return

        user_id: str | None = None
        if authorization is not None and authorization[:7].lower() == b"bearer ":
            try:
                principal = await self.verifier.verify_async(authorization[7:].strip().decode("latin-1"))
            except ApiError as exc:
                await exchange.error(exc, language)
                return
            user_id = principal.user_id
            forwarded.append((b"x-user-id", user_id.encode("latin-1")))
            forwarded.append((b"x-user-roles", ",".join(sorted(principal.roles)).encode("latin-1")))
            if not language_given and principal.language is not None:
                # No Accept-Language from the client: the user's own setting (the token's `lang`).
                language = principal.language
                forwarded.append((b"accept-language", language.encode("latin-1")))

        client = scope.get("client")
        client_ip = self.client_addresses.resolve(client[0] if client else "0.0.0.0", forwarded_for)
        limit = self.user_limit if user_id is not None else self.ip_limit
        if limit > 0:
            key = f"gw:u:{user_id}" if user_id is not None else f"gw:ip:{client_ip}"
            decision = await self.limiter.hit(key, limit, RATE_WINDOW_S)
            if not decision.allowed:
                await exchange.error(too_many_requests(max(1, math.ceil(decision.retry_after))), language)
                return

        forwarded.append((b"x-original-ip", client_ip.encode("latin-1")))
        forwarded.append((b"x-request-id", request_id.encode("latin-1")))
        upstream_scope = {**scope, "headers": forwarded}
        body_limit = BodyLimit(receive, self.max_body, exchange) if chunked else None
        try:
            await self.upstreams[route.service].forward(upstream_scope, body_limit or receive, exchange)
        except UpstreamError as exc:
            if exchange.suppressed:
                await self._refuse_too_large(exchange, language)
                return
            if exchange.started:
                raise
            headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
            error = ApiError(exc.status, exc.code, params={"service": route.service}, headers=headers)
            await exchange.error(error, language)
        except ClientDisconnected:
            return
        except Exception:
            if exchange.suppressed:
                await self._refuse_too_large(exchange, language)
                return
            if exchange.started:
                raise
            log.exception("upstream_failed", service=route.service)
            await exchange.error(ApiError(502, "BAD_GATEWAY", params={"service": route.service}), language)
        else:
            if exchange.suppressed:
                await self._refuse_too_large(exchange, language)

    async def _refuse_too_large(self, exchange: Exchange, language: str) -> None:
        exchange.suppressed = False
        await exchange.error(self._too_large(), language)

    def _too_large(self) -> ApiError:
        return ApiError(413, "PAYLOAD_TOO_LARGE", params={"limit": self.max_body})
