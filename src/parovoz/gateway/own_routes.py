"""The gateway's own endpoints: probes, metrics, the merged OpenAPI document and the docs UI."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING

import orjson

from parovoz.chassis.errors import ApiError, ErrorItem
from parovoz.chassis.obs import metrics
from parovoz.gateway.compression import accepts_gzip
from parovoz.gateway.docs import DocsSource
from parovoz.gateway.swagger import ASSETS_PREFIX, DOCS_PATH, OPENAPI_PATH, PAGE, PAGE_HEADERS, SwaggerAssets
from parovoz.gateway.upstreams import Scope, Upstream, fetch

if TYPE_CHECKING:
    from parovoz.gateway.exchange import Exchange

JSON = b"application/json"
_EXACT = {
    "/healthz": "/healthz",
    "/readyz": "/readyz",
    "/metrics": "/metrics",
    OPENAPI_PATH: OPENAPI_PATH,
    DOCS_PATH: DOCS_PATH,
    DOCS_PATH + "/": DOCS_PATH,
}
ASSETS_LABEL = ASSETS_PREFIX + "{name}"


class OwnRoutes:
    def __init__(
        self, upstreams: Mapping[str, Upstream], docs: DocsSource, *, readiness_timeout: float = 2.0
    ) -> None:
        self._upstreams = upstreams
        self._docs = docs
        self._readiness_timeout = readiness_timeout
        self._assets: SwaggerAssets | None = None  # read on first use: most processes never serve docs

    def match(self, path: str) -> str | None:
        """The route label of one of the gateway's own endpoints, or None."""
        label = _EXACT.get(path)
        if label is None and path.startswith(ASSETS_PREFIX):
            return ASSETS_LABEL
        return label

    async def handle(
        self, label: str, scope: Scope, exchange: Exchange, language: str, accept_encoding: bytes | None
    ) -> None:
        method = scope["method"]
        if method not in ("GET", "HEAD"):
            await exchange.error(
                ApiError(405, "METHOD_NOT_ALLOWED", headers={"Allow": "GET, HEAD"}), language
            )
            return
        head = method == "HEAD"
        if label == "/healthz":
            await exchange.respond(200, [(b"content-type", JSON)], b'{"status":"ok"}', head=head)
        elif label == "/readyz":
            not_ready = await self._not_ready()
            if not_ready:
                items = [ErrorItem("SERVICE_UNAVAILABLE", params={"service": s}) for s in not_ready]
                await exchange.error(ApiError(503, "SERVICE_UNAVAILABLE", items=items), language)
            else:
                body = orjson.dumps({"status": "ready", "services": sorted(self._upstreams)})
                await exchange.respond(200, [(b"content-type", JSON)], body, head=head)
        elif label == "/metrics":
            body, content_type = metrics.render()
            await exchange.respond(200, [(b"content-type", content_type.encode("latin-1"))], body, head=head)
        elif label == OPENAPI_PATH:
            body = await self._docs.openapi()
            headers = [(b"content-type", JSON), (b"cache-control", b"no-cache")]
            await exchange.respond(200, headers, body, head=head)
        elif label == DOCS_PATH:
            await exchange.respond(200, list(PAGE_HEADERS), PAGE, head=head)
        else:
            if self._assets is None:
                self._assets = await asyncio.to_thread(SwaggerAssets)
            found = self._assets.get(
                scope["path"][len(ASSETS_PREFIX) :], gzip_ok=accepts_gzip(accept_encoding)
            )
            if found is None:
                await exchange.error(ApiError(404, "NOT_FOUND"), language)
                return
            headers, body = found
            await exchange.respond(200, headers, body, head=head)

    async def _not_ready(self) -> list[str]:
        """Services whose `/readyz` does not answer 200 within the readiness timeout."""
        names = sorted(self._upstreams)
        answers = await asyncio.gather(*(self._ready(self._upstreams[name]) for name in names))
        return [name for name, ready in zip(names, answers, strict=True) if not ready]

    async def _ready(self, upstream: Upstream) -> bool:
        try:
            async with asyncio.timeout(self._readiness_timeout):
                status, _, _ = await fetch(upstream, "/readyz")
        except Exception:  # timeout, UpstreamError, or an embedded app crashing: not ready
            return False
        return status == 200
