"""The gateway's route table, derived from the services' specs."""

from __future__ import annotations

from collections.abc import Iterable

from parovoz.chassis.service import ServiceSpec
from parovoz.gateway.routes import Route


def gateway_routes(specs: Iterable[ServiceSpec]) -> list[Route]:
    return [Route(prefix, spec.name) for spec in specs for prefix in spec.http_prefixes]
