"""REST adapter: `/api/v1/users/me/privacy`, `/users/me/settings` and `/users/me/consents`.

Privacy and settings read and change like `/users/me` (ETag, `If-Match` → 412 when stale);
consents are a read-only list but for the opt-in marketing consent, given with PUT and withdrawn
with DELETE (recorded with time, IP and user agent: 152-FZ).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request
from pydantic import Field, StrictBool
from pydantic.alias_generators import to_camel
from starlette.responses import Response

from parovoz.chassis.errors import ApiError, ErrorItem
from parovoz.chassis.models import StrictBody
from parovoz.chassis.rest.auth import client_ip, principal
from parovoz.chassis.rest.body import Body, json_pointer, unwrap_attributes
from parovoz.chassis.rest.caching import conditional, etag_of
from parovoz.chassis.rest.envelope import collection_document, document, dumps, resource
from parovoz.chassis.rest.query import CollectionSpec, parse_list_query
from parovoz.chassis.security.principal import Principal
from parovoz.chassis.service import ServiceContext
from parovoz.services.account import data_errors as _data_errors  # noqa: F401  (registers the codes)
from parovoz.services.account import privacy_store, store
from parovoz.services.account.api import if_match_satisfied
from parovoz.services.account.caller import own_account
from parovoz.services.account.domain import consents, preferences, privacy, profile
from parovoz.services.account.domain.consents import Consent
from parovoz.services.account.domain.privacy import Privacy
from parovoz.services.account.domain.profile import Account, InvalidProfile
from parovoz.services.account.events import emit_user_updated

PRIVACY_TYPE = "privacy-settings"
SETTINGS_TYPE = "settings"
CONSENTS_TYPE = "consents"
MARKETING_VERSION_SETTING = "ACCOUNT_MARKETING_CONSENT_VERSION"

CONSENTS_COLLECTION = CollectionSpec(
    fields={
        "id": privacy_store.consents.c.id,
        "purpose": privacy_store.consents.c.purpose,
        "givenAt": privacy_store.consents.c.given_at,
    },
    sortable=("givenAt", "purpose"),
    default_sort=("givenAt",),
    tiebreaker="id",
)


class PrivacyChanges(StrictBody):
    """`PATCH /users/me/privacy` attributes; only those sent change."""

    visibility: str | None = Field(
        None, description='"public", "friends" or "private".', examples=["friends"]
    )
    show_playtime: StrictBool | None = Field(
        None, description="Others who may see the profile see the playtime."
    )
    show_library: StrictBool | None = Field(
        None, description="Others who may see the profile see the library."
    )
    show_online_status: StrictBool | None = Field(None, description="Others see whether the user is online.")


class ChannelChanges(StrictBody):
    """One channel's categories; `security` by e-mail cannot be turned off."""

    security: StrictBool | None = None
    purchases: StrictBool | None = None
    social: StrictBool | None = None
    marketing: StrictBool | None = None


class NotificationChanges(StrictBody):
    email: ChannelChanges | None = None
    push: ChannelChanges | None = None


class SettingsChanges(StrictBody):
    """`PATCH /users/me/settings` attributes; only those sent change (notifications merge)."""

    language: str | None = Field(None, description='"ru" or "en".', examples=["en"])
    notifications: NotificationChanges | None = Field(
        None, description='Per channel and category, e.g. {"email": {"marketing": false}}.'
    )


def _now() -> datetime:
    return datetime.now(UTC)


async def _prefix(request: Request, model: type[StrictBody]) -> list[str]:
    """The JSON pointer prefix of the attributes as the client sent them (enveloped or bare)."""
    # Only reached after `Body` parsed this very body, so it is known to be valid JSON.
    _, prefix = unwrap_attributes(orjson.loads(await request.body()), model)
    return prefix


def _invalid(problems: list[profile.FieldProblem], prefix: list[str]) -> ApiError:
    """422 with one item per field; dotted field names become nested pointers."""
    items = [
        ErrorItem(
            p.code,
            pointer=json_pointer([*prefix, *(to_camel(part) for part in p.field.split("."))]),
            params=p.params,
        )
        for p in problems
    ]
    return ApiError(422, items[0].code, items=items)


def _check_if_match(request: Request, payload: dict[str, Any]) -> None:
    if_match = request.headers.get("if-match")
    if if_match is not None and not if_match_satisfied(if_match, etag_of(dumps(payload))):
        raise ApiError(412, "PRECONDITION_FAILED", parameter="If-Match")


def privacy_document(user_id: str, settings: Privacy) -> dict[str, Any]:
    attributes = {to_camel(name): value for name, value in privacy.settings_of(settings).items()}
    return document(resource(PRIVACY_TYPE, user_id, {**attributes, "updatedAt": settings.updated_at}))


def settings_document(
    account: Account, notifications: preferences.Notifications, updated_at: datetime | None
) -> dict[str, Any]:
    changed = max(filter(None, (account.updated_at, updated_at)))
    attributes = {"language": account.language, "notifications": notifications, "updatedAt": changed}
    return document(resource(SETTINGS_TYPE, account.id, attributes))


def consent_resource(consent: Consent) -> dict[str, Any]:
    return resource(
        CONSENTS_TYPE,
        consent.id,
        {
            "purpose": consent.purpose,
            "version": consent.version,
            "givenAt": consent.given_at,
            "ip": consent.ip,
            "userAgent": consent.user_agent,
            "withdrawnAt": consent.withdrawn_at,
            "active": consent.active,
        },
    )


def _sent(model: StrictBody, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(model, name) for name in names if name in model.model_fields_set}


def build_router(ctx: ServiceContext) -> APIRouter:
    router = APIRouter(prefix="/api/v1/users/me", tags=["users"])
    db = ctx.db
    marketing_version = ctx.settings.get(MARKETING_VERSION_SETTING) or consents.DEFAULT_MARKETING_VERSION

    @router.get("/privacy", summary="The caller's privacy settings")
    async def read_privacy(request: Request, caller: Principal = Depends(principal)) -> Response:
        async with db.connect() as conn:
            account = await own_account(conn, caller)
            settings = await privacy_store.get_privacy(conn, account.id)
        return conditional(request, privacy_document(account.id, settings), settings.updated_at)

    @router.patch("/privacy", summary="Change who sees the caller's profile and activity")
    async def change_privacy(
        request: Request,
        changes: PrivacyChanges = Body(PrivacyChanges),
        caller: Principal = Depends(principal),
    ) -> Response:
        try:
            cleaned = privacy.validate_changes(_sent(changes, privacy.EDITABLE_FIELDS))
        except InvalidProfile as exc:
            raise _invalid(exc.problems, await _prefix(request, PrivacyChanges)) from None
        async with db.transaction() as uow:
            # The account row lock serialises concurrent changes of the caller's settings.
            account = await own_account(uow.conn, caller, for_update=True)
            settings = await privacy_store.get_privacy(uow.conn, account.id)
            _check_if_match(request, privacy_document(account.id, settings))
            actual = privacy.actual_changes(settings, cleaned)
            if actual:
                settings = privacy.applied(settings, actual, _now())
                await privacy_store.save_privacy(uow.conn, account.id, settings)
        return conditional(request, privacy_document(account.id, settings), settings.updated_at)

    @router.get("/settings", summary="The caller's language and notification preferences")
    async def read_settings(request: Request, caller: Principal = Depends(principal)) -> Response:
        async with db.connect() as conn:
            account = await own_account(conn, caller)
            notifications, updated_at = await privacy_store.get_notifications(conn, account.id)
        payload = settings_document(account, notifications, updated_at)
        return conditional(request, payload, payload["data"]["attributes"]["updatedAt"])

    @router.patch("/settings", summary="Change the caller's language and notification preferences")
    async def change_settings(
        request: Request,
        changes: SettingsChanges = Body(SettingsChanges),
        caller: Principal = Depends(principal),
    ) -> Response:
        problems: list[profile.FieldProblem] = []
        language: dict[str, Any] = {}
        if "language" in changes.model_fields_set:
            try:
                language = profile.validate_changes({"language": changes.language}, today=_now().date())
            except InvalidProfile as exc:
                problems += exc.problems
        sent_notifications: dict[str, dict[str, Any]] = {}
        if "notifications" in changes.model_fields_set:
            if changes.notifications is None:
                problems.append(
                    profile.FieldProblem("notifications", preferences.NOTIFICATION_PREFERENCE_INVALID)
                )
            else:
                for channel in preferences.CHANNELS:
                    sent = getattr(changes.notifications, channel)
                    if channel in changes.notifications.model_fields_set:
                        if sent is None:
                            problems.append(
                                profile.FieldProblem(
                                    f"notifications.{channel}", preferences.NOTIFICATION_PREFERENCE_INVALID
                                )
                            )
                        else:
                            sent_notifications[channel] = _sent(sent, preferences.CATEGORIES)
        async with db.transaction() as uow:
            account = await own_account(uow.conn, caller, for_update=True)
            notifications, updated_at = await privacy_store.get_notifications(uow.conn, account.id)
            wanted = notifications
            try:
                wanted = preferences.merged(notifications, sent_notifications)
            except InvalidProfile as exc:
                problems += exc.problems
            if problems:
                raise _invalid(problems, await _prefix(request, SettingsChanges))
            _check_if_match(request, settings_document(account, notifications, updated_at))
            now = _now()
            if wanted != notifications:
                await privacy_store.save_notifications(uow.conn, account.id, wanted, now)
                notifications, updated_at = wanted, now
            actual = profile.actual_changes(account, language)
            if actual:
                # One source of truth: the language is the profile's; Auth follows the event.
                await store.update_profile(uow.conn, account.id, actual, now=now)
                await emit_user_updated(uow, account.id, ["language"], now)
                account = await own_account(uow.conn, caller)
        payload = settings_document(account, notifications, updated_at)
        return conditional(request, payload, payload["data"]["attributes"]["updatedAt"])

    @router.get("/consents", summary="The caller's consents (152-FZ), given and withdrawn")
    async def list_own_consents(request: Request, caller: Principal = Depends(principal)) -> Response:
        query = parse_list_query(request, CONSENTS_COLLECTION)
        async with db.connect() as conn:
            account = await own_account(conn, caller)
            total = await privacy_store.count_consents(conn, account.id)
            found = await privacy_store.list_consents(
                conn, account.id, order_by=query.order_by, offset=query.offset, limit=query.per_page
            )
        items = [consent_resource(consent) for consent in found]
        return conditional(request, collection_document(items, query, total, request.url))

    @router.put("/consents/marketing", summary="Give the marketing consent (opt-in)")
    async def give_marketing_consent(request: Request, caller: Principal = Depends(principal)) -> Response:
        async with db.transaction() as uow:
            account = await own_account(uow.conn, caller, for_update=True)
            consent = await privacy_store.give_consent(
                uow.conn,
                account.id,
                purpose=consents.MARKETING,
                version=marketing_version,
                now=_now(),
                ip=client_ip(request),
                user_agent=consents.clipped_user_agent(request.headers.get("user-agent")),
            )
        return conditional(request, document(consent_resource(consent)))

    @router.delete("/consents/marketing", summary="Withdraw the marketing consent", status_code=204)
    async def withdraw_marketing_consent(
        request: Request, caller: Principal = Depends(principal)
    ) -> Response:
        async with db.transaction() as uow:
            account = await own_account(uow.conn, caller, for_update=True)
            await privacy_store.withdraw_consents(
                uow.conn,
                account.id,
                now=_now(),
                purpose=consents.MARKETING,
                ip=client_ip(request),
                user_agent=consents.clipped_user_agent(request.headers.get("user-agent")),
            )
        return Response(status_code=204)

    return router
