"""What the OAuth sandboxes share: their users, issued codes and tokens, and the PKCE check."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
import zlib
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from starlette.requests import Request

CODE_TTL_S = 600


@dataclass(frozen=True)
class SandboxUser:
    id: str
    first_name: str
    last_name: str
    email: str | None = None


DEFAULT_USER = "ivan"
DEFAULT_USERS: dict[str, SandboxUser] = {
    "ivan": SandboxUser("100001", "Иван", "Паровозов", "ivan.parovozov@example.ru"),
    "maria": SandboxUser("100002", "Мария", "Машинистова", None),
}


def user_for(users: dict[str, SandboxUser], key: str | None) -> SandboxUser:
    """The configured user called `key`, else one made up from the key (a stable id per key), so
    tests can sign in as as many distinct people as they like: `user=<anything>`."""
    key = key or DEFAULT_USER
    found = users.get(key)
    if found is not None:
        return found
    return SandboxUser(str(200_000_000 + zlib.crc32(key.encode()) % 100_000_000), key[:32], "Sandbox", None)


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    user: SandboxUser
    state: str | None
    challenge: str | None
    device_id: str | None = None
    expires: float = field(default_factory=lambda: time.monotonic() + CODE_TTL_S)


class Ledger:
    """Codes are single-use: a second exchange of one is refused like the provider refuses it."""

    def __init__(self) -> None:
        self.codes: dict[str, Grant] = {}
        self.spent: set[str] = set()
        self.tokens: dict[str, SandboxUser] = {}

    def issue(self, grant: Grant) -> str:
        code = secrets.token_urlsafe(24)
        self.codes[code] = grant
        return code

    def redeem(self, code: str) -> Grant | None:
        if code in self.spent:
            return None
        grant = self.codes.pop(code, None)
        if grant is None or grant.expires < time.monotonic():
            return None
        self.spent.add(code)
        return grant

    def token_for(self, user: SandboxUser) -> str:
        token = secrets.token_urlsafe(32)
        self.tokens[token] = user
        return token


async def form_of(request: Request) -> dict[str, str]:
    """An application/x-www-form-urlencoded body (what OAuth token endpoints take)."""
    body = (await request.body()).decode("utf-8", "replace")
    return dict(parse_qsl(body, keep_blank_values=True))
