"""REST adapter: the caller's data exports (`/users/me/data-exports`) and account deletion
(`DELETE /users/me`), the two 152-FZ rights that need more than a profile edit."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import Field
from sqlalchemy.exc import IntegrityError
from starlette.responses import Response

from parovoz.chassis.errors import ApiError, too_many_requests
from parovoz.chassis.models import StrictBody
from parovoz.chassis.rest.auth import principal
from parovoz.chassis.rest.body import Body
from parovoz.chassis.rest.caching import conditional
from parovoz.chassis.rest.envelope import EnvelopeResponse, document, resource
from parovoz.chassis.security.principal import Principal
from parovoz.chassis.service import ServiceContext
from parovoz.services.account import data_errors, export_store, privacy_store, store
from parovoz.services.account.caller import caller_id, own_account
from parovoz.services.account.clients import auth_client
from parovoz.services.account.domain import exports, profile
from parovoz.services.account.domain.exports import DataExport
from parovoz.services.account.events import emit_user_deleted

EXPORTS_TYPE = "data-exports"
EXPORTS_PATH = "/api/v1/users/me/data-exports"
# Password guesses through the deletion route: a few per user per quarter hour.
DELETE_ATTEMPTS, DELETE_WINDOW_S = 5, 900.0


class DeletionRequest(StrictBody):
    """`DELETE /users/me`: the current password, and the 2FA code when 2FA is on."""

    password: str = Field(
        "", max_length=1024, description="The current password (empty when the account has none)."
    )
    code: str | None = Field(None, max_length=64, description="TOTP or recovery code, when 2FA is on.")


def _now() -> datetime:
    return datetime.now(UTC)


def export_location(export_id: str) -> str:
    return f"{EXPORTS_PATH}/{export_id}"


def export_document(export: DataExport, now: datetime) -> dict[str, Any]:
    attributes = {
        "status": export.status,
        "createdAt": export.created_at,
        "completedAt": export.completed_at,
        "expiresAt": export.expires_at,
        "downloadUrl": f"{export_location(export.id)}/file" if export.downloadable(now) else None,
    }
    return document(resource(EXPORTS_TYPE, export.id, attributes))


def _export_id(raw: str) -> str:
    export_id = profile.canonical_user_id(raw)  # any UUID, canonical
    if export_id is None:
        raise ApiError(404, data_errors.DATA_EXPORT_NOT_FOUND)
    return export_id


def build_router(ctx: ServiceContext) -> APIRouter:
    router = APIRouter(prefix="/api/v1/users/me", tags=["users"])
    db = ctx.db

    @router.post("/data-exports", summary="Ask for an archive of the caller's personal data", status_code=202)
    async def request_export(caller: Principal = Depends(principal)) -> Response:
        now = _now()
        try:
            async with db.transaction() as uow:
                # The account row lock serialises the caller's requests: the checks below hold.
                account = await own_account(uow.conn, caller, for_update=True)
                if await export_store.in_flight(uow.conn, account.id):
                    raise ApiError(409, data_errors.DATA_EXPORT_IN_PROGRESS)
                recent = await export_store.created_since(uow.conn, account.id, now - exports.DAILY_WINDOW)
                retry_after = exports.retry_after_limit(recent, now)
                if retry_after is not None:
                    raise data_errors.export_limit_reached(retry_after)
                export = await export_store.insert_export(uow.conn, account.id, now)
        except IntegrityError:  # the one-in-flight index, should a request slip past the lock
            raise ApiError(409, data_errors.DATA_EXPORT_IN_PROGRESS) from None
        return EnvelopeResponse(
            export_document(export, now), status_code=202, headers={"Location": export_location(export.id)}
        )

    @router.get("/data-exports/{export_id}", summary="One of the caller's data exports")
    async def read_export(
        request: Request, export_id: str, caller: Principal = Depends(principal)
    ) -> Response:
        async with db.connect() as conn:
            export = await export_store.get_export(conn, _export_id(export_id), caller_id(caller))
        if export is None:  # another user's export reads as unknown
            raise ApiError(404, data_errors.DATA_EXPORT_NOT_FOUND)
        return conditional(request, export_document(export, _now()))

    @router.get(
        "/data-exports/{export_id}/file",
        summary="Download a completed data export (zip)",
        response_class=Response,
        responses={200: {"content": {"application/zip": {}}}},
    )
    async def download_export(export_id: str, caller: Principal = Depends(principal)) -> Response:
        user_id = caller_id(caller)
        now = _now()
        async with db.connect() as conn:
            export = await export_store.get_export(conn, _export_id(export_id), user_id)
            archive = await export_store.get_archive(conn, export.id, user_id, now) if export else None
        if export is None or (export.status == exports.COMPLETED and archive is None):
            raise ApiError(404, data_errors.DATA_EXPORT_NOT_FOUND)
        if archive is None:
            raise ApiError(409, data_errors.DATA_EXPORT_NOT_READY)
        stamp = export.created_at.strftime("%Y%m%d")
        return Response(
            archive,
            media_type="application/zip",
            headers={
                "Content-Disposition": f'attachment; filename="parovoz-data-{stamp}.zip"',
                "Cache-Control": "private, no-store",
            },
        )

    @router.delete("", summary="Delete the caller's account (asks for the password again)", status_code=204)
    async def delete_account(
        request: Request,
        body: DeletionRequest = Body(DeletionRequest),
        caller: Principal = Depends(principal),
    ) -> Response:
        async with db.connect() as conn:
            account = await own_account(conn, caller)
        decision = await ctx.limiter.hit(f"account-delete:{account.id}", DELETE_ATTEMPTS, DELETE_WINDOW_S)
        if not decision.allowed:
            raise too_many_requests(decision.retry_after)
        # Auth re-checks the user (password, 2FA, or a fresh sign-in); its 401 comes back as is.
        await auth_client(ctx).verify_user_credentials(
            account.id, password=body.password, code=body.code, session_id=caller.session_id
        )
        now = _now()
        async with db.transaction() as uow:
            # Everything or nothing: profile anonymised, consents withdrawn, exports dropped, event.
            account = await own_account(uow.conn, caller, for_update=True)
            await store.anonymise_account(uow.conn, account.id, now=now)
            await privacy_store.withdraw_consents(uow.conn, account.id, now=now)
            await export_store.delete_user_exports(uow.conn, account.id)
            await emit_user_deleted(uow, account.id, now)
        return Response(status_code=204)

    return router
