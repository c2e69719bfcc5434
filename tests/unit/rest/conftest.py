"""A small service app built with the real app factory, for the REST chassis' behaviour tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Depends, Request

from parovoz.chassis import context
from parovoz.chassis.config import Settings
from parovoz.chassis.errors import ApiError
from parovoz.chassis.models import StrictBody
from parovoz.chassis.rest.app import create_service_app
from parovoz.chassis.rest.auth import client_ip, optional_principal, principal, require_roles
from parovoz.chassis.rest.body import Body
from parovoz.chassis.rest.caching import conditional
from parovoz.chassis.rest.envelope import EnvelopeResponse, document, resource
from parovoz.chassis.security.principal import Principal
from parovoz.chassis.service import ServiceContext, ServiceSpec

LAST_MODIFIED = datetime(2026, 11, 27, 10, 0, 0, 500_000, tzinfo=UTC)


class FakeVerifier:
    """Test double of the security module's verifier: tokens are `user.<id>.<role~role>`."""

    def __init__(self) -> None:
        self.calls = 0

    def verify(self, token: str) -> Principal:
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != "user":
            raise ApiError(401, "INVALID_TOKEN")
        roles = frozenset(r for r in parts[2].split("~") if r)
        return Principal(parts[1], roles, "s1", "t1", datetime.now(UTC) + timedelta(minutes=5))

    async def verify_async(self, token: str) -> Principal:
        self.calls += 1
        return self.verify(token)


class Developer(StrictBody):
    name: str


class CreateGame(StrictBody):
    title: str
    price_amount: int
    developer: Developer | None = None
    tags: list[str] = []


def router(ctx: ServiceContext) -> APIRouter:
    api = APIRouter(prefix="/api/v1")

    @api.post("/games", status_code=201)
    async def create_game(body: CreateGame = Body(CreateGame)) -> EnvelopeResponse:
        return EnvelopeResponse(document(resource("games", "g1", body.model_dump(by_alias=True))), 201)

    @api.get("/games/{game_id}")
    async def get_game(game_id: int, request: Request, verbose: bool = False) -> Any:
        if game_id == 404:
            raise ApiError(404, "NOT_FOUND")
        if game_id == 500:
            raise RuntimeError("secret-internal-detail: SELECT * FROM games")
        return conditional(request, document(resource("games", game_id, {"title": "t"})), LAST_MODIFIED)

    @api.get("/me")
    async def me(caller: Principal = Depends(principal)) -> dict[str, Any]:
        return {"userId": caller.user_id}

    @api.get("/maybe-me")
    async def maybe_me(
        caller: Principal | None = Depends(optional_principal),
        again: Principal | None = Depends(optional_principal),
    ) -> dict[str, Any]:
        return {"userId": caller.user_id if caller else None, "same": caller is again}

    @api.get("/admin")
    async def admin(caller: Principal = Depends(require_roles("admin", "support"))) -> dict[str, Any]:
        return {"userId": caller.user_id}

    @api.get("/context")
    async def current_context() -> dict[str, Any]:
        return {
            "requestId": context.request_id.get(),
            "correlationId": context.correlation_id.get(),
            "language": context.language.get(),
        }

    @api.post("/echo-size")
    async def echo_size(request: Request) -> dict[str, int]:
        return {"size": len(await request.body())}

    @api.get("/ip")
    async def ip(request: Request) -> dict[str, str]:
        return {"ip": client_ip(request)}

    return api


@pytest.fixture
def verifier() -> FakeVerifier:
    return FakeVerifier()


@pytest.fixture
def ready_state() -> dict[str, bool]:
    return {"ready": True}


@pytest.fixture
async def client(verifier: FakeVerifier, ready_state: dict[str, bool]) -> AsyncIterator[httpx.AsyncClient]:
    spec = ServiceSpec(
        name="testsvc", title="Test", http_prefixes=("/api/v1",), migrations=None, router=router
    )
    ctx = ServiceContext(
        name="testsvc",
        settings=Settings(max_body_bytes=4096),
        db=None,  # type: ignore[arg-type]
        broker=None,  # type: ignore[arg-type]
        tokens=verifier,  # type: ignore[arg-type]
        limiter=None,  # type: ignore[arg-type]
    )

    async def ready() -> bool:
        return ready_state["ready"]

    app = create_service_app(spec, ctx, ready)
    assert app.state.ctx is ctx
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as http:
        yield http
