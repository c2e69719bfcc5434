"""The gateway's route table: which service owns a path under `/api/v1/...`.

Matching is by the longest prefix on a path-segment boundary, so `/api/v1/auth` owns
`/api/v1/auth/login` but not `/api/v1/authors`. The table is small (one or a few prefixes per
service), so a linear scan over prefixes sorted longest-first costs well under a microsecond.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Route:
    """Requests whose path is `prefix` or starts with `prefix + "/"` go to `service`."""

    prefix: str
    service: str

    def __post_init__(self) -> None:
        if not self.prefix.startswith("/") or self.prefix.endswith("/"):
            raise ValueError(f"route prefix must start and not end with '/': {self.prefix!r}")


class HasHttpPrefixes(Protocol):
    """What `routes_for` needs of a service spec (`parovoz.chassis.service.ServiceSpec`)."""

    @property
    def name(self) -> str: ...

    @property
    def http_prefixes(self) -> tuple[str, ...]: ...


def routes_for(specs: Iterable[HasHttpPrefixes]) -> list[Route]:
    """One `Route` per (service, prefix) of the given service specs."""
    return [Route(prefix, spec.name) for spec in specs for prefix in spec.http_prefixes]


class RouteTable:
    """Longest-prefix lookup of the service that owns a request path."""

    def __init__(self, routes: Iterable[Route]) -> None:
        by_prefix: dict[str, Route] = {}
        for route in routes:
            owner = by_prefix.get(route.prefix)
            if owner is not None and owner.service != route.service:
                raise ValueError(f"prefix {route.prefix} claimed by {owner.service} and {route.service}")
            by_prefix[route.prefix] = route
        self._ordered = sorted(by_prefix.values(), key=lambda r: len(r.prefix), reverse=True)

    @property
    def routes(self) -> list[Route]:
        return list(self._ordered)

    @property
    def services(self) -> list[str]:
        """Each routed service once, in first-seen order of the longest-first table."""
        return list(dict.fromkeys(route.service for route in self._ordered))

    def match(self, path: str) -> Route | None:
        """The route owning `path`, or None (the gateway answers 404 `ROUTE_NOT_FOUND`)."""
        for route in self._ordered:
            prefix = route.prefix
            if path.startswith(prefix) and (len(path) == len(prefix) or path[len(prefix)] == "/"):
                return route
        return None
