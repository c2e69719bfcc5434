"""Async helpers for the e2e tests of Account's 152-FZ features: a signed-up user whose account
exists, and waiting for something the platform does in the background."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import httpx

from tests.e2e.flows import new_user

TIMEOUT = 30.0
T = TypeVar("T")

ADMIN = {"login": "admin@parovoz.local", "password": "parovoz-demo"}


@dataclass
class Person:
    id: str
    email: str
    username: str
    password: str
    access: str
    refresh: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access}"}


async def eventually(check: Callable[[], Awaitable[T | None]], what: str, within: float = TIMEOUT) -> T:
    """`check()` until it returns something other than None (Account and Auth act on events)."""
    deadline = time.monotonic() + within
    while True:
        found = await check()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.1)


async def sign_in(client: httpx.AsyncClient, login: str, password: str) -> tuple[str, str]:
    r = await client.post("/api/v1/auth/login", json={"login": login, "password": password})
    assert r.status_code == 200, r.text
    tokens = r.json()["data"]["attributes"]
    return tokens["accessToken"], tokens["refreshToken"]


async def signed_up(client: httpx.AsyncClient) -> Person:
    """A new user, signed in, whose account Account has made (from Auth's event)."""
    body = new_user()
    r = await client.post("/api/v1/auth/register", json=body, headers={"User-Agent": "e2e-browser/1.0"})
    assert r.status_code == 201, r.text
    user_id = r.json()["data"]["id"]
    access, refresh = await sign_in(client, body["email"], body["password"])
    person = Person(user_id, body["email"], body["username"], body["password"], access, refresh)

    async def profile() -> bool | None:
        r = await client.get("/api/v1/users/me", headers=person.auth)
        return True if r.status_code == 200 else None

    await eventually(profile, "the account appears")
    return person


async def admin(client: httpx.AsyncClient) -> dict[str, str]:
    access, _ = await sign_in(client, ADMIN["login"], ADMIN["password"])
    return {"Authorization": f"Bearer {access}"}
