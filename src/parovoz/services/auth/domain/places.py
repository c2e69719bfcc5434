"""Where a sign-in comes from: the place of the client address and a short name of the device.

The place comes from a `PlaceLocator` (GeoIP, an adapter); the device is read from the user agent
here, by a few rules that tell the common browsers, systems and our own apps apart — enough for
a person to recognise their own sessions ("Chrome on Windows", "Parovoz app on Android").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # sessions.py imports this module
    from parovoz.services.auth.domain.sessions import Session
    from parovoz.services.auth.domain.users import User


@dataclass(frozen=True)
class Place:
    """Country (ISO 3166-1 alpha-2) and city (English name) of an address; None when unknown."""

    country: str | None = None
    city: str | None = None


UNKNOWN_PLACE = Place()


class PlaceLocator(Protocol):
    def locate(self, ip: str | None) -> Place:
        """The place of `ip`; UNKNOWN_PLACE when it is unknown, malformed or None (never raises)."""
        ...


class NoPlaces:
    """The locator when no GeoIP database is configured: every place is unknown."""

    def locate(self, ip: str | None) -> Place:
        return UNKNOWN_PLACE


class NewCountryTx(Protocol):
    """What the new-country check needs of the sign-in's transaction."""

    async def earlier_countries(self, user_id: str, session_id: str) -> frozenset[str]:
        """The known countries of the user's sessions other than `session_id` (revoked ones too),
        read under a lock on the user so that simultaneous sign-ins are judged one after another."""
        ...

    async def record_new_country(self, user: User, session: Session) -> None:
        """Write the auth.user.new_country_signed_in.v1 event in this transaction."""
        ...


async def note_new_country(tx: NewCountryTx, user: User, session: Session) -> bool:
    """In the transaction that stores `session`: emit the new-country event when it is one;
    whether it was. A session of unknown country costs no query at all."""
    if session.country is None:
        return False
    if not is_new_country(session.country, await tx.earlier_countries(user.id, session.id)):
        return False
    await tx.record_new_country(user, session)
    return True


def is_new_country(country: str | None, earlier_countries: frozenset[str]) -> bool:
    """Whether a sign-in from `country` deserves a "was this you?" notice.

    `earlier_countries` are the known countries of the user's earlier sessions. A first sign-in
    (no earlier known country) is not news, nor is an unknown country: only a known country the
    user has never signed in from before, while other countries are on record. Earlier sessions of
    unknown place do not count, so switching GeoIP on does not mail every user at once.
    """
    return country is not None and bool(earlier_countries) and country not in earlier_countries


# --- the device, from the user agent ------------------------------------------------------------

DEVICE_MAX = 64
# User agents are client-controlled: only a prefix of bounded length is examined.
_UA_SCAN = 512

# Our own clients: "Parovoz/1.4.0 (Android 14; Pixel 8)", "ParovozLauncher/2.0 (Windows NT 10.0)".
_PAROVOZ_APP = re.compile(r"\bParovoz(?:App)?/", re.IGNORECASE)
_PAROVOZ_LAUNCHER = re.compile(r"\bParovozLauncher/", re.IGNORECASE)

# Systems, most specific first (an iPad's agent mentions "Mac OS X"; Android's mentions "Linux").
_SYSTEMS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"Windows Phone", re.IGNORECASE), "Windows Phone"),
    (re.compile(r"\bAndroid\b", re.IGNORECASE), "Android"),
    (re.compile(r"\biPad\b|\biPadOS\b"), "iPadOS"),
    (re.compile(r"\biPhone\b|\biPod\b|\biOS\b"), "iOS"),
    (re.compile(r"\bCrOS\b"), "ChromeOS"),
    (re.compile(r"Windows", re.IGNORECASE), "Windows"),
    (re.compile(r"Mac OS X|Macintosh|macOS", re.IGNORECASE), "macOS"),
    (re.compile(r"\bUbuntu\b|\bFedora\b|\bDebian\b|\bLinux\b|\bX11\b", re.IGNORECASE), "Linux"),
)

# Browsers, most specific first: Edge, Opera, Yandex and Samsung agents also say "Chrome" and
# "Safari"; Chrome's says "Safari"; Chrome on iOS is "CriOS", Firefox on iOS "FxiOS".
_BROWSERS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bYaBrowser/"), "Yandex Browser"),
    (re.compile(r"\bEdg(?:e|A|iOS)?/"), "Edge"),
    (re.compile(r"\bOPR/|\bOpera\b"), "Opera"),
    (re.compile(r"\bSamsungBrowser/"), "Samsung Internet"),
    (re.compile(r"\bVivaldi/"), "Vivaldi"),
    (re.compile(r"\bFirefox/|\bFxiOS/"), "Firefox"),
    (re.compile(r"\bChrome/|\bCriOS/|\bChromium/"), "Chrome"),
    (re.compile(r"\bSafari/|AppleWebKit/.*Mobile/"), "Safari"),
)
# Tools rather than people (still named: a session from curl is worth recognising).
_TOOLS = re.compile(r"^(curl|Wget|python-requests|python-httpx|okhttp|PostmanRuntime|Go-http-client)/", re.I)


def _system(agent: str) -> str | None:
    for pattern, name in _SYSTEMS:
        if pattern.search(agent):
            return name
    return None


def describe_device(user_agent: str | None) -> str | None:
    """A short name of the client: "Chrome on Windows", "Parovoz app on Android", "Safari on iOS",
    "Firefox", "curl"; None when the agent is absent or says nothing recognisable."""
    if not user_agent:
        return None
    agent = user_agent[:_UA_SCAN].strip()
    if not agent:
        return None
    system = _system(agent)
    client: str | None
    if _PAROVOZ_LAUNCHER.search(agent):
        client = "Parovoz launcher"
    elif _PAROVOZ_APP.search(agent):
        client = "Parovoz app"
    else:
        client = next((name for pattern, name in _BROWSERS if pattern.search(agent)), None)
        if client is None:
            tool = _TOOLS.match(agent)
            if tool is not None:
                client = tool.group(1)
    if client and system:
        described = f"{client} on {system}"
    else:
        described = client or system
    return described[:DEVICE_MAX] if described else None
