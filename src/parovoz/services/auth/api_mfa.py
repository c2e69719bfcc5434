"""REST adapter: /api/v1/auth/2fa/totp (enrol, confirm, disable) and /api/v1/auth/login/2fa."""

from __future__ import annotations

from fastapi import APIRouter

from parovoz.chassis.service import ServiceContext
from parovoz.services.auth.api import PREFIX


def build_router(ctx: ServiceContext) -> APIRouter:
    return APIRouter(prefix=PREFIX, tags=["auth"])
