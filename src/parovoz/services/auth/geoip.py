"""GeoIP adapter: the place of a client address from a MaxMind DB file (GeoLite2-City / GeoIP2-City
layout, or a Country database: the city is then unknown), read with `maxminddb`.

The file (`PAROVOZ_AUTH_GEOIP_DB`) is opened once (MODE_AUTO: the C extension over mmap when it is
there); a lookup is a few microseconds of synchronous work, cheap enough for the sign-in path. A
missing or unreadable file, a malformed address or one the database does not know: the place is
unknown, never an error (sign-in must not depend on GeoIP).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any, Protocol

import maxminddb

from parovoz.chassis.config import Settings
from parovoz.chassis.obs.logging import get_logger
from parovoz.services.auth.domain.places import UNKNOWN_PLACE, NoPlaces, Place, PlaceLocator

log = get_logger(__name__)

SETTING = "AUTH_GEOIP_DB"
_NAME_MAX = 128


def _name(names: Any) -> str | None:
    """The English name of a place (MaxMind always carries `en`), else any one it has."""
    if not isinstance(names, Mapping) or not names:
        return None
    name = names.get("en") or next(iter(names.values()))
    return name[:_NAME_MAX] if isinstance(name, str) and name else None


def place_of(found: Any) -> Place:
    """A Place from one City- or Country-layout record (anything else: unknown)."""
    if not isinstance(found, Mapping):
        return UNKNOWN_PLACE
    country = found.get("country")
    iso = country.get("iso_code") if isinstance(country, Mapping) else None
    if not isinstance(iso, str) or len(iso) != 2 or not iso.isalpha():
        return UNKNOWN_PLACE  # a city without its country is no place we can name
    city = found.get("city")
    return Place(iso.upper(), _name(city.get("names")) if isinstance(city, Mapping) else None)


class _Reader(Protocol):
    # maxminddb's pure-Python Reader and its C extension's share this much
    def get(self, ip_address: Any) -> Any: ...

    def close(self) -> None: ...


class MaxMindLocator:
    """`PlaceLocator` over an open MaxMind DB reader."""

    def __init__(self, reader: _Reader) -> None:
        self.reader = reader

    @classmethod
    def open(cls, path: str) -> MaxMindLocator:
        return cls(maxminddb.open_database(path, maxminddb.MODE_AUTO))

    def locate(self, ip: str | None) -> Place:
        if not ip:
            return UNKNOWN_PLACE
        try:
            address = ipaddress.ip_address(ip.strip())
        except ValueError:
            return UNKNOWN_PLACE
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped  # ::ffff:a.b.c.d, as a dual-stack socket reports IPv4 peers
        try:
            return place_of(self.reader.get(address))
        except (ValueError, maxminddb.InvalidDatabaseError) as exc:
            # an IPv6 address in an IPv4-only database, or a damaged file: unknown, and said once here
            log.debug("geoip_lookup_failed", error=repr(exc))
            return UNKNOWN_PLACE

    def close(self) -> None:
        self.reader.close()


def locator_from_settings(settings: Settings) -> PlaceLocator:
    """The MaxMind locator of `PAROVOZ_AUTH_GEOIP_DB`; every place unknown when it is unset or unreadable."""
    path = settings.get(SETTING)
    if not path:
        return NoPlaces()
    try:
        return MaxMindLocator.open(path)
    except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
        log.warning("geoip_database_unreadable", path=path, error=repr(exc))
        return NoPlaces()
