"""The API gateway: plain-ASGI routing, edge security, gzip, CORS and merged docs (see app.py)."""

from parovoz.gateway.app import Gateway
from parovoz.gateway.docs import DocsSource, MergedOpenApi, merge_openapi
from parovoz.gateway.errors import UpstreamError
from parovoz.gateway.routes import Route, RouteTable, routes_for
from parovoz.gateway.upstreams import AsgiUpstream, HttpUpstream, Upstream

__all__ = [
    "AsgiUpstream",
    "DocsSource",
    "Gateway",
    "HttpUpstream",
    "MergedOpenApi",
    "Route",
    "RouteTable",
    "Upstream",
    "UpstreamError",
    "merge_openapi",
    "routes_for",
]
