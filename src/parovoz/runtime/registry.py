"""The services the platform runs, by name. The only place that imports every service."""

from __future__ import annotations

from parovoz.chassis.service import ServiceSpec


def service_specs() -> dict[str, ServiceSpec]:
    """Every service's spec, in start order (producers before their consumers)."""
    from parovoz.services.account import SPEC as ACCOUNT
    from parovoz.services.auth import SPEC as AUTH

    return {spec.name: spec for spec in (AUTH, ACCOUNT)}
