"""A REST request's bearer token is what the service's outgoing gRPC calls forward as the user's:
the `principal` dependency puts it in `context.user_token`, the client metadata carries it."""

from __future__ import annotations

from types import SimpleNamespace

import httpx
from fastapi import Depends, FastAPI

from parovoz.chassis.rest.auth import principal
from parovoz.chassis.rpc.metadata import outgoing_metadata
from parovoz.chassis.security.principal import Principal
from parovoz.chassis.security.tokens import JwksTokenVerifier, SigningKey, TokenIssuer, local_jwks_source


async def test_the_request_token_is_forwarded_by_outgoing_calls() -> None:
    key = SigningKey.generate()
    app = FastAPI()
    app.state.ctx = SimpleNamespace(tokens=JwksTokenVerifier(local_jwks_source([key])))

    @app.get("/async")
    async def from_async(caller: Principal = Depends(principal)) -> dict[str, str]:
        return dict(outgoing_metadata("account"))

    @app.get("/sync")
    def from_sync(caller: Principal = Depends(principal)) -> dict[str, str]:
        return dict(outgoing_metadata("account"))

    token = TokenIssuer(key).issue("user-1", ["user"], "s-1", 600).token
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        for path in ("/async", "/sync"):
            sent = (await client.get(path, headers={"Authorization": f"Bearer {token}"})).json()
            assert sent["x-user-token"] == token, path
            assert "authorization" not in sent  # that header is the service's own token
