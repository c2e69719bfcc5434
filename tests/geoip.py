"""The GeoIP test database (scripts/gen_geoip_test_db.py) and the addresses it places."""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "gen_geoip_test_db.py"

MOSCOW_IP = "198.51.100.10"
SAINT_PETERSBURG_IP = "198.51.100.200"
BERLIN_IP = "203.0.113.7"
ALMATY_IP = "192.0.2.33"
RU_IPV6 = "2001:db8::1"
NOWHERE_IP = "100.64.0.1"  # in no network of the database


@cache
def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_geoip_test_db", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_test_db(path: Path) -> Path:
    """Generate the test database at `path`."""
    return _script().write(path)
