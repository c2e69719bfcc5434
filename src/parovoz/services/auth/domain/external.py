"""Sign-in through VK ID, Odnoklassniki and Telegram: the pure parts.

PKCE (RFC 7636, S256), the state and its browser binding, usernames derived from a provider's
names, the placeholder e-mail of a user whose provider vouches for no address, and the shapes the
adapters and the store hand around.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from parovoz.services.auth.domain import rules

VK = "vk"
OK = "ok"
TELEGRAM = "telegram"
OAUTH_PROVIDERS = (VK, OK)
PROVIDERS = (VK, OK, TELEGRAM)

SIGN_IN = "sign-in"
SIGN_UP = "sign-up"
LINK = "link"

# RFC 7636 §4.1: 43..128 characters of [A-Za-z0-9-._~]; 32 random bytes give 43.
VERIFIER_BYTES = 32
# ≥128 bits for the state and the browser nonce (SECURITY.md); 32 bytes = 256.
STATE_BYTES = 32
# What a state / nonce / code may be as they come back: token_urlsafe(32) is 43 characters.
TOKEN_MAX = 512
# `.invalid` is reserved (RFC 2606): the address can never be delivered to or claimed by anyone.
PLACEHOLDER_DOMAIN = "users.parovoz.invalid"


@dataclass(frozen=True)
class ExternalProfile:
    """Who the provider says the user is (validated by the adapter)."""

    provider: str
    external_id: str
    first_name: str | None = None
    last_name: str | None = None
    username: str | None = None  # the provider's own handle, when it has one (Telegram)
    email: str | None = None
    # True only when the provider itself states the address is verified
    email_verified: bool = False

    @property
    def display_name(self) -> str | None:
        name = " ".join(part for part in (self.first_name, self.last_name) if part)
        return name or self.username or None


@dataclass(frozen=True)
class OAuthState:
    """The server side of one authorization (what the state in the URL points to)."""

    id: str
    provider: str
    purpose: str
    user_id: str | None  # the signed-in user who links (purpose "link")
    code_verifier: str
    accept_terms: bool
    client_ip: str | None
    user_agent: str | None
    created_at: datetime


@dataclass(frozen=True)
class Identity:
    provider: str
    external_id: str
    display_name: str | None
    linked_at: datetime
    last_used_at: datetime | None


def random_token() -> str:
    return secrets.token_urlsafe(STATE_BYTES)


def digest(value: str) -> bytes:
    """SHA-256 of a secret as stored: the state, the browser nonce (their hashes only are kept)."""
    return hashlib.sha256(value.encode("utf-8")).digest()


def pkce_verifier() -> str:
    return secrets.token_urlsafe(VERIFIER_BYTES)


def pkce_challenge(verifier: str) -> str:
    """S256: BASE64URL(SHA256(ASCII(verifier))) without padding (RFC 7636 §4.2)."""
    raw = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def placeholder_email(provider: str, user_id: str) -> str:
    """An address for a user whose provider vouched for none: unique, and no mail box's."""
    return f"{provider}-{user_id}@{PLACEHOLDER_DOMAIN}"


def is_placeholder_email(email: str) -> bool:
    return email.endswith("@" + PLACEHOLDER_DOMAIN)


_CYRILLIC = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюяієґ",
        "a b v g d e e zh z i y k l m n o p r s t u f kh ts ch sh shch - y - e yu ya i ye g".split(),
        strict=True,
    )
)
_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9_.-]+")
_REPEATED = re.compile(r"[_.-]{2,}")
_USERNAME_BASE_MAX = rules.USERNAME_MAX - 5  # room for "_1234"


def _latin(text: str) -> str:
    out = []
    for char in text:
        lower = char.lower()
        if lower in _CYRILLIC:
            mapped = _CYRILLIC[lower].replace("-", "")
            out.append(mapped.capitalize() if char != lower and mapped else mapped)
        else:
            out.append(char)
    # other scripts' accents (é → e); what still is not Latin goes below
    return unicodedata.normalize("NFKD", "".join(out)).encode("ascii", "ignore").decode("ascii")


def _clean(text: str) -> str:
    text = _NOT_ALLOWED.sub("_", _latin(text))
    text = _REPEATED.sub("_", text).strip("_.-")
    return text[:_USERNAME_BASE_MAX].strip("_.-")


def username_base(profile: ExternalProfile) -> str:
    """A valid username from the provider's handle, else the transliterated names, else the provider."""
    candidates = [profile.username or ""]
    names = [n for n in (profile.first_name, profile.last_name) if n]
    candidates.append("_".join(names))
    for raw in candidates:
        cleaned = _clean(raw)
        if len(cleaned) >= rules.USERNAME_MIN:
            return cleaned
        if cleaned and len(f"{profile.provider}_{cleaned}") >= rules.USERNAME_MIN:
            return f"{profile.provider}_{cleaned}"
    return f"{profile.provider}_user"


def username_candidates(profile: ExternalProfile, attempts: int = 8) -> Iterator[str]:
    """The base first, then the base with random numbers, finally a random one: each valid."""
    base = username_base(profile)
    yield base
    for _ in range(attempts):
        yield f"{base}_{secrets.randbelow(10_000):04d}"
    yield f"{profile.provider}_{secrets.token_hex(8)}"
