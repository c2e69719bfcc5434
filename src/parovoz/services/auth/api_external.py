"""REST adapter: sign-in with VK ID and Odnoklassniki (OAuth 2.0 + PKCE) and Telegram Login."""

from __future__ import annotations

from fastapi import APIRouter

from parovoz.chassis.service import ServiceContext
from parovoz.services.auth.api import PREFIX


def build_router(ctx: ServiceContext) -> APIRouter:
    return APIRouter(prefix=PREFIX, tags=["auth"])
