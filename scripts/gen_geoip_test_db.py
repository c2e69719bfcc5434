"""Write a small GeoIP database in MaxMind's GeoIP2-City layout, for tests and local runs.

Only documentation and test networks (RFC 5737, RFC 3849) are in it, so no real address is ever
located by it:

    198.51.100.0/25   → RU, Moscow
    198.51.100.128/25 → RU, Saint Petersburg
    203.0.113.0/24    → DE, Berlin
    192.0.2.0/24      → KZ, Almaty
    2001:db8::/32     → RU (country only)

    python scripts/gen_geoip_test_db.py PATH     # then PAROVOZ_AUTH_GEOIP_DB=PATH

Needs `mmdb-writer` (the test extra); the result is read with `maxminddb` like a real GeoLite2-City.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

# geoname ids as in GeoNames, so a record looks like the real database's
_COUNTRIES: dict[str, dict[str, Any]] = {
    "RU": {"geoname_id": 2017370, "names": {"en": "Russia", "ru": "Россия"}},
    "DE": {"geoname_id": 2921044, "names": {"en": "Germany", "ru": "Германия"}},
    "KZ": {"geoname_id": 1522867, "names": {"en": "Kazakhstan", "ru": "Казахстан"}},
}
_CONTINENTS: dict[str, dict[str, Any]] = {
    "RU": {"code": "EU", "geoname_id": 6255148, "names": {"en": "Europe", "ru": "Европа"}},
    "DE": {"code": "EU", "geoname_id": 6255148, "names": {"en": "Europe", "ru": "Европа"}},
    "KZ": {"code": "AS", "geoname_id": 6255147, "names": {"en": "Asia", "ru": "Азия"}},
}
# network → (country, city geoname id, {language: city name}, time zone)
NETWORKS: dict[str, tuple[str, int | None, dict[str, str] | None, str]] = {
    "198.51.100.0/25": ("RU", 524901, {"en": "Moscow", "ru": "Москва"}, "Europe/Moscow"),
    "198.51.100.128/25": (
        "RU",
        498817,
        {"en": "Saint Petersburg", "ru": "Санкт-Петербург"},
        "Europe/Moscow",
    ),
    "203.0.113.0/24": ("DE", 2950159, {"en": "Berlin", "ru": "Берлин"}, "Europe/Berlin"),
    "192.0.2.0/24": ("KZ", 1526384, {"en": "Almaty", "ru": "Алматы"}, "Asia/Almaty"),
    "2001:db8::/32": ("RU", None, None, "Europe/Moscow"),
}


def record(country: str, city_id: int | None, city_names: dict[str, str] | None, zone: str) -> dict:
    """One GeoIP2-City record: continent, country, registered_country, location and, when known, city."""
    iso = {"iso_code": country, **_COUNTRIES[country]}
    found: dict[str, Any] = {
        "continent": _CONTINENTS[country],
        "country": iso,
        "registered_country": iso,
        "location": {"time_zone": zone, "accuracy_radius": 50},
    }
    if city_id is not None and city_names is not None:
        found["city"] = {"geoname_id": city_id, "names": city_names}
    return found


def write(path: Path) -> Path:
    """Write the database to `path` (its folder must exist); returns `path`."""
    from mmdb_writer import MmdbU16, MmdbU32, MMDBWriter
    from netaddr import IPSet

    def typed(value: Any) -> Any:
        # MaxMind's schema: geoname ids are uint32, accuracy_radius uint16
        if isinstance(value, dict):
            return {
                k: MmdbU16(v) if k == "accuracy_radius" else MmdbU32(v) if k == "geoname_id" else typed(v)
                for k, v in value.items()
            }
        return value

    writer = MMDBWriter(
        ip_version=6,
        ipv4_compatible=True,
        database_type="GeoLite2-City",
        languages=["en", "ru"],
        description="Parovoz test GeoIP database (documentation networks only)",
    )
    for network, (country, city_id, city_names, zone) in NETWORKS.items():
        writer.insert_network(IPSet([network]), typed(record(country, city_id, city_names, zone)))
    writer.to_db_file(str(path))
    return path


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python scripts/gen_geoip_test_db.py PATH", file=sys.stderr)
        return 2
    print(write(Path(argv[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
