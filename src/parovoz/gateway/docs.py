"""The merged OpenAPI document of every service and the offline Swagger UI (CONTRACTS.md: REST).

Each service serves its own `/openapi.json`; the gateway fetches them through the upstreams,
keeps only the paths the gateway actually routes to that service (SECURITY.md: inventory — what is
published equals what is reachable), merges components (renaming a component to
`<Service><Name>` when two services define the same name differently), and adds its own paths.
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Mapping
from typing import Any, Protocol

import orjson

from parovoz.chassis.obs.logging import get_logger
from parovoz.gateway.errors import UpstreamError
from parovoz.gateway.routes import RouteTable
from parovoz.gateway.upstreams import Upstream, fetch

log = get_logger(__name__)

COMPONENT_SECTIONS = (
    "schemas",
    "responses",
    "parameters",
    "examples",
    "requestBodies",
    "headers",
    "securitySchemes",
    "links",
    "callbacks",
)


class DocsSource(Protocol):
    async def openapi(self) -> bytes:
        """The merged OpenAPI 3 document as JSON bytes."""
        ...


def _error_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/GatewayErrors"}}},
    }


GATEWAY_PATHS: dict[str, Any] = {
    "/healthz": {
        "get": {
            "tags": ["gateway"],
            "summary": "Liveness: 200 while the gateway process runs",
            "responses": {"200": {"description": "Alive"}},
        }
    },
    "/readyz": {
        "get": {
            "tags": ["gateway"],
            "summary": "Readiness: 200 when every service's /readyz answers 200",
            "responses": {
                "200": {"description": "Every service is ready"},
                "503": _error_response("One SERVICE_UNAVAILABLE error per service that is not ready"),
            },
        }
    },
    "/metrics": {
        "get": {
            "tags": ["gateway"],
            "summary": "Prometheus metrics of the gateway",
            "responses": {"200": {"description": "Prometheus text format"}},
        }
    },
    "/api/v1/openapi.json": {
        "get": {
            "tags": ["gateway"],
            "summary": "This document: the merged OpenAPI of every service",
            "responses": {"200": {"description": "OpenAPI 3 document"}},
        }
    },
    "/api/v1/docs": {
        "get": {
            "tags": ["gateway"],
            "summary": "Swagger UI for this document (served offline)",
            "responses": {"200": {"description": "HTML page"}},
        }
    },
    "/api/v1/docs/assets/{name}": {
        "get": {
            "tags": ["gateway"],
            "summary": "Static assets of the Swagger UI page",
            "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {"200": {"description": "Asset"}, "404": _error_response("No such asset")},
        }
    },
}

GATEWAY_SCHEMAS: dict[str, Any] = {
    "GatewayErrors": {
        "type": "object",
        "required": ["errors"],
        "properties": {
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["code", "title", "detail"],
                    "properties": {
                        "code": {"type": "string", "example": "ROUTE_NOT_FOUND"},
                        "title": {"type": "string"},
                        "detail": {"type": "string"},
                        "source": {
                            "type": "object",
                            "properties": {"pointer": {"type": "string"}, "parameter": {"type": "string"}},
                        },
                    },
                },
            }
        },
    }
}


def _rewrite_refs(node: Any, renames: Mapping[str, str]) -> Any:
    """`node` with every `$ref` in `renames` replaced (in place for dicts and lists)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref in renames:
            node["$ref"] = renames[ref]
        for value in node.values():
            _rewrite_refs(value, renames)
    elif isinstance(node, list):
        for value in node:
            _rewrite_refs(value, renames)
    return node


def _prefix_name(service: str) -> str:
    return "".join(part.capitalize() for part in service.replace("-", "_").split("_"))


def merge_openapi(
    documents: Mapping[str, dict[str, Any]],
    routes: RouteTable,
    *,
    title: str = "Parovoz API",
    version: str = "1.0.0",
) -> dict[str, Any]:
    """One OpenAPI 3 document from each service's (`documents`: service name -> its document)."""
    docs = {service: copy.deepcopy(doc) for service, doc in documents.items()}
    # Which services define each component differently decides what gets renamed.
    seen: dict[tuple[str, str], list[tuple[str, Any]]] = {}
    for service, doc in docs.items():
        for section in COMPONENT_SECTIONS:
            for name, value in (doc.get("components", {}).get(section) or {}).items():
                seen.setdefault((section, name), []).append((service, value))
    renames: dict[str, dict[str, str]] = {service: {} for service in docs}
    for (section, name), defs in seen.items():
        distinct = {orjson.dumps(value, option=orjson.OPT_SORT_KEYS) for _, value in defs}
        if len(distinct) > 1 or (section == "schemas" and name in GATEWAY_SCHEMAS):
            for service, _ in defs:
                renames[service][f"#/components/{section}/{name}"] = (
                    f"#/components/{section}/{_prefix_name(service)}{name}"
                )

    paths: dict[str, Any] = {}
    components: dict[str, dict[str, Any]] = {"schemas": copy.deepcopy(GATEWAY_SCHEMAS)}
    tags: dict[str, dict[str, Any]] = {"gateway": {"name": "gateway", "description": "The API gateway"}}
    for service, doc in docs.items():
        _rewrite_refs(doc, renames[service])
        for path, item in (doc.get("paths") or {}).items():
            route = routes.match(path)
            if route is None or route.service != service:
                continue  # not reachable through the gateway (the service's own probes, docs...)
            paths[path] = item
        for section in COMPONENT_SECTIONS:
            for name, value in (doc.get("components", {}).get(section) or {}).items():
                new_ref = renames[service].get(f"#/components/{section}/{name}")
                final = new_ref.rsplit("/", 1)[1] if new_ref else name
                components.setdefault(section, {})[final] = value
        for tag in doc.get("tags") or []:
            tags.setdefault(tag["name"], tag)
    paths.update(copy.deepcopy(GATEWAY_PATHS))
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "servers": [{"url": "/"}],
        "tags": list(tags.values()),
        "paths": dict(sorted(paths.items())),
        "components": components,
    }


class MergedOpenApi:
    """Fetches and merges the services' documents; caches the result for `ttl` seconds.

    A service that cannot answer is left out and the result is not cached, so the document
    completes itself as services come up.
    """

    def __init__(
        self,
        upstreams: Mapping[str, Upstream],
        routes: RouteTable,
        *,
        ttl: float = 300.0,
        fetch_timeout: float = 5.0,
    ) -> None:
        self._upstreams = upstreams
        self._routes = routes
        self._ttl = ttl
        self._fetch_timeout = fetch_timeout
        self._cached: bytes | None = None
        self._cached_at = 0.0
        self._lock = asyncio.Lock()

    async def openapi(self) -> bytes:
        if self._cached is not None and time.monotonic() - self._cached_at < self._ttl:
            return self._cached
        async with self._lock:  # one fetch round for a burst of callers
            if self._cached is not None and time.monotonic() - self._cached_at < self._ttl:
                return self._cached
            services = [s for s in self._routes.services if s in self._upstreams]
            results = await asyncio.gather(*(self._fetch(s) for s in services))
            documents = {s: doc for s, doc in zip(services, results, strict=True) if doc is not None}
            body = orjson.dumps(merge_openapi(documents, self._routes))
            if len(documents) == len(services):
                self._cached, self._cached_at = body, time.monotonic()
            return body

    async def _fetch(self, service: str) -> dict[str, Any] | None:
        try:
            async with asyncio.timeout(self._fetch_timeout):
                status, _, body = await fetch(self._upstreams[service], "/openapi.json")
            if status != 200:
                raise ValueError(f"status {status}")
            doc = orjson.loads(body)
            if not isinstance(doc, dict):
                raise ValueError("not an object")
            return doc
        except (TimeoutError, UpstreamError, ValueError, orjson.JSONDecodeError) as exc:
            log.warning("openapi_unavailable", service=service, error=repr(exc))
            return None
