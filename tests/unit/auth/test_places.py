"""Where sessions sign in from: device names, GeoIP lookups against the generated database, the
new-country decision."""

from __future__ import annotations

from pathlib import Path

import maxminddb
import pytest

from parovoz.chassis.config import Settings
from parovoz.services.auth.domain.places import (
    UNKNOWN_PLACE,
    NoPlaces,
    Place,
    describe_device,
    is_new_country,
    note_new_country,
)
from parovoz.services.auth.geoip import MaxMindLocator, locator_from_settings, place_of
from tests.geoip import ALMATY_IP, BERLIN_IP, MOSCOW_IP, NOWHERE_IP, RU_IPV6, SAINT_PETERSBURG_IP

CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
EDGE_WINDOWS = CHROME_WINDOWS + " Edg/131.0.2903.86"
YANDEX_ANDROID = (
    "Mozilla/5.0 (Linux; Android 13; SM-A515F) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 YaBrowser/24.7.1.98.00 SA/3 Mobile Safari/537.36"
)
CHROME_ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.6778.81 Mobile Safari/537.36"
)
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1"
)
CHROME_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1"
)
FIREFOX_LINUX = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
SAFARI_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15"
)
OPERA_WINDOWS = CHROME_WINDOWS + " OPR/115.0.0.0"


@pytest.mark.parametrize(
    ("agent", "device"),
    [
        (CHROME_WINDOWS, "Chrome on Windows"),
        (EDGE_WINDOWS, "Edge on Windows"),
        (OPERA_WINDOWS, "Opera on Windows"),
        (YANDEX_ANDROID, "Yandex Browser on Android"),
        (CHROME_ANDROID, "Chrome on Android"),
        (SAFARI_IPHONE, "Safari on iOS"),
        (CHROME_IPHONE, "Chrome on iOS"),
        (FIREFOX_LINUX, "Firefox on Linux"),
        (SAFARI_MAC, "Safari on macOS"),
        ("Parovoz/1.4.0 (Android 14; Pixel 8)", "Parovoz app on Android"),
        ("ParovozApp/2.1 (iPhone; iOS 17.5)", "Parovoz app on iOS"),
        ("ParovozLauncher/2.0.3 (Windows NT 10.0; Win64)", "Parovoz launcher on Windows"),
        ("curl/8.5.0", "curl"),
        ("python-httpx/0.28.1", "python-httpx"),
    ],
)
def test_device_names_the_browser_and_the_system(agent: str, device: str) -> None:
    assert describe_device(agent) == device


@pytest.mark.parametrize("agent", [None, "", "   ", "SomethingUnheardOf", "x" * 10_000])
def test_device_is_unknown_when_the_agent_says_nothing_recognisable(agent: str | None) -> None:
    assert describe_device(agent) is None


def test_device_name_is_short_even_for_a_hostile_agent() -> None:
    hostile = "Mozilla/5.0 (Windows NT 10.0) " + "A" * 100_000 + " Chrome/1.0"
    assert describe_device(hostile) in {None, "Chrome on Windows", "Windows"}
    assert len(describe_device("Firefox/1.0 " + "Windows " * 1000) or "") <= 64


@pytest.fixture(scope="module")
def locator(geoip_db: Path) -> MaxMindLocator:
    return MaxMindLocator.open(str(geoip_db))


@pytest.mark.parametrize(
    ("ip", "place"),
    [
        (MOSCOW_IP, Place("RU", "Moscow")),
        (SAINT_PETERSBURG_IP, Place("RU", "Saint Petersburg")),
        (BERLIN_IP, Place("DE", "Berlin")),
        (ALMATY_IP, Place("KZ", "Almaty")),
        (RU_IPV6, Place("RU", None)),
        (f"::ffff:{BERLIN_IP}", Place("DE", "Berlin")),  # IPv4-mapped, as dual-stack sockets report
        (f" {BERLIN_IP} ", Place("DE", "Berlin")),
    ],
)
def test_places_from_the_generated_database(locator: MaxMindLocator, ip: str, place: Place) -> None:
    assert locator.locate(ip) == place


@pytest.mark.parametrize("ip", [NOWHERE_IP, "127.0.0.1", "::1", "not-an-ip", "", None, "999.1.1.1"])
def test_unknown_and_malformed_addresses_are_unknown_places(locator: MaxMindLocator, ip: str | None) -> None:
    assert locator.locate(ip) == UNKNOWN_PLACE


def test_the_database_is_read_by_the_pure_python_reader_too(geoip_db: Path) -> None:
    pure = MaxMindLocator(maxminddb.open_database(str(geoip_db), maxminddb.MODE_MMAP))
    try:
        assert pure.locate(BERLIN_IP) == Place("DE", "Berlin")
    finally:
        pure.close()


def test_records_without_a_country_are_no_place() -> None:
    assert place_of({"city": {"names": {"en": "Atlantis"}}}) == UNKNOWN_PLACE
    assert place_of({"country": {"iso_code": "XYZ"}}) == UNKNOWN_PLACE
    assert place_of(None) == UNKNOWN_PLACE
    assert place_of({"country": {"iso_code": "de"}, "city": {"names": {"ru": "Берлин"}}}) == Place(
        "DE", "Берлин"
    )


def test_no_database_configured_or_unreadable_means_unknown_places(tmp_path: Path) -> None:
    assert isinstance(locator_from_settings(Settings.from_env({})), NoPlaces)
    missing = Settings.from_env({"PAROVOZ_AUTH_GEOIP_DB": str(tmp_path / "missing.mmdb")})
    assert locator_from_settings(missing).locate(BERLIN_IP) == UNKNOWN_PLACE
    garbage = tmp_path / "garbage.mmdb"
    garbage.write_bytes(b"this is not a MaxMind database" * 10)
    broken = Settings.from_env({"PAROVOZ_AUTH_GEOIP_DB": str(garbage)})
    assert locator_from_settings(broken).locate(BERLIN_IP) == UNKNOWN_PLACE


def test_configured_database_is_used(geoip_db: Path) -> None:
    settings = Settings.from_env({"PAROVOZ_AUTH_GEOIP_DB": str(geoip_db)})
    assert locator_from_settings(settings).locate(MOSCOW_IP) == Place("RU", "Moscow")


@pytest.mark.parametrize(
    ("country", "earlier", "new"),
    [
        ("DE", frozenset({"RU"}), True),
        ("DE", frozenset({"RU", "KZ"}), True),
        ("RU", frozenset({"RU"}), False),
        ("DE", frozenset({"RU", "DE"}), False),
        ("DE", frozenset(), False),  # the first located sign-in is no news
        (None, frozenset({"RU"}), False),  # an unknown country says nothing
    ],
)
def test_new_country_decision(country: str | None, earlier: frozenset[str], new: bool) -> None:
    assert is_new_country(country, earlier) is new


class _Tx:
    def __init__(self, earlier: frozenset[str]) -> None:
        self.earlier = earlier
        self.asked: list[tuple[str, str]] = []
        self.recorded: list[str] = []

    async def earlier_countries(self, user_id: str, session_id: str) -> frozenset[str]:
        self.asked.append((user_id, session_id))
        return self.earlier

    async def record_new_country(self, user: object, session: object) -> None:
        self.recorded.append(session.id)  # type: ignore[attr-defined]


class _Row:
    def __init__(self, id_: str, country: str | None = None) -> None:
        self.id = id_
        self.country = country


async def test_note_new_country_records_only_news_and_skips_unknown_places() -> None:
    user = _Row("u1")
    tx = _Tx(frozenset({"RU"}))
    assert await note_new_country(tx, user, _Row("s1", "DE")) is True  # type: ignore[arg-type]
    assert tx.recorded == ["s1"] and tx.asked == [("u1", "s1")]
    assert await note_new_country(tx, user, _Row("s2", "RU")) is False  # type: ignore[arg-type]
    assert tx.recorded == ["s1"]
    assert await note_new_country(tx, user, _Row("s3", None)) is False  # type: ignore[arg-type]
    assert len(tx.asked) == 2  # an unknown place costs no query
