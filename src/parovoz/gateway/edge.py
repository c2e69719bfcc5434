"""Edge policies of the gateway: request ids, the client's address, CORS and security headers.

Each is precomputed from settings once so the per-request work is a few dict/set lookups.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterable

from parovoz.chassis.config import Settings

RawHeaders = list[tuple[bytes, bytes]]

# An accepted X-Request-ID is short and made of token characters: it goes into logs and headers.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


def request_id_from(header_value: bytes | None) -> str:
    """The client's X-Request-ID when it is well-formed, else a new UUID."""
    if header_value is not None:
        value = header_value.decode("latin-1")
        if _REQUEST_ID.fullmatch(value):
            return value
    return _new_request_id()


# Random (version 4) UUID strings formatted straight from a batch of `os.urandom` bytes:
# `str(uuid.uuid4())` cost ~4 µs here (a getrandom call, a UUID object, int formatting) on every
# request without an id; this is ~1 µs and one getrandom per 256 ids, with the same format and bits.
_ID_BATCH = 16 * 256
_VARIANT = "89ab" * 4  # the variant's two high bits are 10: its hex digit is 8, 9, a or b
_id_bytes = b""
_id_at = 0


def _new_request_id() -> str:
    global _id_bytes, _id_at
    at = _id_at
    if at >= len(_id_bytes):
        _id_bytes, at = os.urandom(_ID_BATCH), 0
    _id_at = at + 16
    h = _id_bytes[at : at + 16].hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[int(h[16], 16)]}{h[17:20]}-{h[20:]}"


def _forget_ids() -> None:
    global _id_bytes, _id_at
    _id_bytes, _id_at = b"", 0


# A forked child must not hand out the ids its parent will also hand out.
os.register_at_fork(after_in_child=_forget_ids)


def security_headers(settings: Settings) -> RawHeaders:
    """Headers every gateway response carries (SECURITY.md: misconfiguration)."""
    headers = [
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
    ]
    # HSTS only where TLS terminates in front of us; set e.g. "max-age=31536000; includeSubDomains".
    hsts = settings.get("GATEWAY_HSTS")
    if hsts:
        headers.append((b"strict-transport-security", hsts.encode("latin-1")))
    return headers


class ClientAddressResolver:
    """The client's IP: the peer address, or X-Forwarded-For when the peer is a trusted proxy.

    X-Forwarded-For is read right to left, skipping trusted proxies; the first untrusted hop is the
    client. Anything a client writes on the left of that is ignored (it can be forged).
    """

    def __init__(self, trusted: Iterable[str]) -> None:
        self._networks = [
            ipaddress.ip_network(item.strip(), strict=False) for item in trusted if item.strip()
        ]
        self._trust_cache: dict[str, bool] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> ClientAddressResolver:
        return cls((settings.get("GATEWAY_TRUSTED_PROXIES") or "").split(","))

    def is_trusted(self, address: str) -> bool:
        known = self._trust_cache.get(address)
        if known is None:
            try:
                ip = ipaddress.ip_address(address)
            except ValueError:
                known = False
            else:
                known = any(ip in net for net in self._networks)
            if len(self._trust_cache) < 65536:  # bound memory against address churn
                self._trust_cache[address] = known
        return known

    def resolve(self, peer: str, forwarded_for: bytes | None) -> str:
        if forwarded_for is None or not self._networks or not self.is_trusted(peer):
            return peer
        hops = [hop.strip() for hop in forwarded_for.decode("latin-1").split(",")]
        for hop in reversed(hops):
            if not hop:
                continue
            try:
                ipaddress.ip_address(hop)
            except ValueError:
                return peer  # a malformed chain: trust nothing in it
            if not self.is_trusted(hop):
                return hop
        return hops[0] or peer


class CorsPolicy:
    """CORS for the configured origins; never `*` together with credentials.

    With an explicit origin list the matching origin is echoed with credentials allowed and
    `Vary: Origin`; with `*` configured any origin may read, but without credentials.
    """

    max_age = b"600"
    allowed_methods = b"GET, POST, PUT, PATCH, DELETE, OPTIONS"
    exposed_headers = b"X-Request-ID, Retry-After, ETag, Location, Content-Disposition"

    def __init__(self, origins: Iterable[str]) -> None:
        listed = [origin.rstrip("/") for origin in origins]
        self.any_origin = "*" in listed
        self.origins = frozenset(origin.encode("latin-1") for origin in listed if origin != "*")

    def allows(self, origin: bytes) -> bool:
        return self.any_origin or origin in self.origins

    def response_headers(self, origin: bytes) -> RawHeaders:
        """Headers for an actual (non-preflight) response to an allowed cross-origin request."""
        if origin in self.origins:
            return [
                (b"access-control-allow-origin", origin),
                (b"access-control-allow-credentials", b"true"),
                (b"access-control-expose-headers", self.exposed_headers),
                (b"vary", b"Origin"),
            ]
        return [
            (b"access-control-allow-origin", b"*"),
            (b"access-control-expose-headers", self.exposed_headers),
        ]

    def preflight_headers(self, origin: bytes, requested_headers: bytes | None) -> RawHeaders:
        headers = self.response_headers(origin)
        headers += [
            (b"access-control-allow-methods", self.allowed_methods),
            (b"access-control-max-age", self.max_age),
        ]
        if requested_headers:
            # Any header the browser asks for may be sent: the gateway and services validate them.
            headers.append((b"access-control-allow-headers", requested_headers))
        if origin not in self.origins:
            headers.append((b"vary", b"Origin"))
        return headers
