"""REST adapter of Account: `/api/v1/users/me`, `/api/v1/users/{id}`, the staff listing.

Translates between the wire (camelCase `users` resources, ETags, query parameters) and the domain
(snake_case fields, profile rules). Every profile read goes through `profile.public_profile` or
`profile.private_profile`, so which fields a caller sees is decided in one place.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request
from pydantic import Field
from pydantic.alias_generators import to_camel
from starlette.responses import Response

from parovoz.chassis.errors import ApiError
from parovoz.chassis.models import StrictBody
from parovoz.chassis.rest.auth import optional_principal, principal, require_roles
from parovoz.chassis.rest.body import Body, json_pointer, unwrap_attributes
from parovoz.chassis.rest.caching import conditional, etag_of
from parovoz.chassis.rest.envelope import collection_document, document, dumps, resource
from parovoz.chassis.rest.filtering import filter_error
from parovoz.chassis.rest.query import CollectionSpec, parse_list_query, select_fields
from parovoz.chassis.security.principal import Principal
from parovoz.chassis.security.roles import STAFF
from parovoz.chassis.service import ServiceContext
from parovoz.services.account import privacy_store, store
from parovoz.services.account.domain import privacy, profile
from parovoz.services.account.domain.privacy import Privacy, Viewer
from parovoz.services.account.domain.profile import Account
from parovoz.services.account.errors import account_not_found, invalid_profile
from parovoz.services.account.events import emit_user_updated

RESOURCE_TYPE = "users"
USERNAME_PREFIX_MAX = 64
# "Not in the future" must hold for someone born today anywhere: UTC+14 (Kiritimati) sees the
# new day first, so the latest acceptable birth date is today there.
_EARLIEST_OFFSET_AHEAD_OF_UTC = timedelta(hours=14)

_CAMEL = {name: to_camel(name) for name in profile.STAFF_FIELDS}

# The staff listing: every attribute selectable; sort and filters as the back office needs them.
# `username` as a simple parameter is a case-insensitive prefix search (see `_username_prefix`);
# in the `filter` JSON it offers eq / in / contains.
USERS_COLLECTION = CollectionSpec(
    fields={
        "id": store.accounts.c.id,
        **{_CAMEL[name]: store.ACCOUNT_COLUMNS[name] for name in profile.STAFF_FIELDS},
    },
    sortable=("createdAt", "username", "displayName", "country"),
    default_sort=("-createdAt",),
    filterable={
        "id": ("eq", "in"),
        "username": ("eq", "in", "contains"),
        "email": ("eq", "in", "contains"),
        "displayName": ("eq", "contains"),
        "country": ("eq", "ne", "in"),
        "language": ("eq", "in"),
        "status": ("eq", "ne", "in"),
        "createdAt": ("gt", "gte", "lt", "lte"),
        "updatedAt": ("gt", "gte", "lt", "lte"),
    },
    selectable=dict.fromkeys(_CAMEL[name] for name in profile.STAFF_FIELDS),
    tiebreaker="id",
    extra_parameters=("username",),
)


def _query_parameter(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string"},
    }


# The listing reads its query string through `parse_list_query`, so FastAPI cannot see the
# parameters: they are documented here by hand.
_LIST_PARAMETERS = [
    _query_parameter("page", "Page number, from 1.", {"type": "integer", "minimum": 1, "default": 1}),
    _query_parameter(
        "per_page", "Items per page.", {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}
    ),
    _query_parameter(
        "sort", "createdAt, username, displayName, country; `-` for descending. Default -createdAt."
    ),
    _query_parameter("fields", "Attributes to return, e.g. `username,country`."),
    _query_parameter(
        "filter", 'JSON filter, e.g. `{"or":[{"country":"RU"},{"email":{"contains":"@mail.ru"}}]}`.'
    ),
    _query_parameter("username", "Case-insensitive username prefix."),
    _query_parameter("country", "ISO 3166-1 alpha-2; several separated by commas."),
    _query_parameter("language", "ru or en; several separated by commas."),
    _query_parameter("status", "active, blocked or deleted; several separated by commas."),
    _query_parameter(
        "createdAt_min", "Created at or after (RFC 3339).", {"type": "string", "format": "date-time"}
    ),
    _query_parameter(
        "createdAt_max", "Created at or before (RFC 3339).", {"type": "string", "format": "date-time"}
    ),
]


class ProfileChanges(StrictBody):
    """`PATCH /users/me` attributes; only those sent change, `null` clears the optional ones."""

    display_name: str | None = Field(None, description="1–64 characters, trimmed.", examples=["Ivan"])
    avatar_url: str | None = Field(None, description="Absolute https URL (≤ 2048), or null.")
    bio: str | None = Field(None, description="At most 1000 characters, or null.")
    country: str | None = Field(None, description="ISO 3166-1 alpha-2, upper case, or null.", examples=["RU"])
    language: str | None = Field(None, description='"ru" or "en".', examples=["ru"])
    birth_date: str | None = Field(None, description="YYYY-MM-DD, 1900-01-01..today, or null.")


def _attributes(values: dict[str, Any]) -> dict[str, Any]:
    return {_CAMEL[name]: value for name, value in values.items()}


def own_document(account: Account) -> dict[str, Any]:
    """What the owner reads at `/users/me` (and gets back from PATCH)."""
    return document(resource(RESOURCE_TYPE, account.id, _attributes(profile.private_profile(account))))


def public_document(
    account: Account, settings: Privacy | None = None, viewer: Viewer | None = None
) -> dict[str, Any]:
    """What `viewer` (anonymous when None) reads at `/users/{id}`: the privacy settings decide
    between the public profile and the minimal card (`privacy.profile_for`)."""
    shown = privacy.profile_for(viewer or Viewer(), account, settings or Privacy())
    return document(resource(RESOURCE_TYPE, account.id, {to_camel(k): v for k, v in shown.items()}))


def if_match_satisfied(if_match: str, current_etag: str) -> bool:
    """RFC 9110 §13.1.1: `*` or a listed tag equal to the current one (strong comparison: W/ never
    matches)."""
    return any(tag.strip() in ("*", current_etag) for tag in if_match.split(","))


async def _pointers(request: Request) -> dict[str, str]:
    """Field name -> JSON pointer in the body as the client sent it (enveloped or bare)."""
    # Only reached after `Body` parsed this very body, so it is known to be valid JSON.
    _, prefix = unwrap_attributes(orjson.loads(await request.body()), ProfileChanges)
    return {name: json_pointer([*prefix, to_camel(name)]) for name in profile.EDITABLE_FIELDS}


def _username_prefix(request: Request) -> list[sa.ColumnElement[bool]]:
    values = request.query_params.getlist("username")
    if not values:
        return []
    if len(values) > 1 or not 1 <= len(values[0]) <= USERNAME_PREFIX_MAX or "\x00" in values[0]:
        raise filter_error("username", "неверное значение поля username", "bad value for username")
    escaped = values[0].lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    # lower(username) LIKE 'abc%' is served by the accounts_username_prefix index.
    return [sa.func.lower(store.accounts.c.username).like(escaped + "%", escape="\\")]


def build_router(ctx: ServiceContext) -> APIRouter:
    router = APIRouter(prefix="/api/v1/users", tags=["users"])
    db = ctx.db

    @router.get("/me", summary="The caller's own profile")
    async def read_own_profile(request: Request, caller: Principal = Depends(principal)) -> Response:
        user_id = profile.canonical_user_id(caller.user_id)
        account = None
        if user_id is not None:
            async with db.connect() as conn:
                account = await store.get_account(conn, user_id)
        if account is None or account.status == profile.STATUS_DELETED:
            # registered, but Auth's event is not handled yet; or deleted: nobody's any more
            raise account_not_found()
        return conditional(request, own_document(account), account.updated_at)

    @router.patch("/me", summary="Change the caller's own profile")
    async def change_own_profile(
        request: Request,
        changes: ProfileChanges = Body(ProfileChanges),
        caller: Principal = Depends(principal),
    ) -> Response:
        # in the declared order, so that errors come out in a stable order
        sent = changes.model_fields_set
        given = {name: getattr(changes, name) for name in profile.EDITABLE_FIELDS if name in sent}
        today = (datetime.now(UTC) + _EARLIEST_OFFSET_AHEAD_OF_UTC).date()
        try:
            cleaned = profile.validate_changes(given, today=today)
        except profile.InvalidProfile as exc:
            raise invalid_profile(exc.problems, await _pointers(request)) from None
        user_id = profile.canonical_user_id(caller.user_id)
        if user_id is None:
            raise account_not_found()
        async with db.transaction() as uow:
            account = await store.get_account(uow.conn, user_id, for_update=True)
            if account is None or account.status == profile.STATUS_DELETED:
                raise account_not_found()
            if_match = request.headers.get("if-match")
            current_etag = etag_of(dumps(own_document(account)))
            if if_match is not None and not if_match_satisfied(if_match, current_etag):
                raise ApiError(412, "PRECONDITION_FAILED", parameter="If-Match")
            changes = profile.actual_changes(account, cleaned)
            if changes:
                now = datetime.now(UTC)
                await store.update_profile(uow.conn, user_id, changes, now=now)
                # in the same transaction: the event exists exactly when the change does
                await emit_user_updated(uow, user_id, [_CAMEL[name] for name in changes], now)
                account = await store.get_account(uow.conn, user_id)
        assert account is not None  # the row is locked by this transaction: it cannot vanish
        return conditional(request, own_document(account), account.updated_at)

    @router.get("/{user_id}", summary="A user's public profile")
    async def read_public_profile(
        request: Request, user_id: str, viewer: Principal | None = Depends(optional_principal)
    ) -> Response:
        # A malformed id names no account: the same 404 as an unknown one, nothing to learn from it.
        canonical = profile.canonical_user_id(user_id)
        account = None
        settings = Privacy()
        if canonical is not None:
            async with db.connect() as conn:
                account = await store.get_account(conn, canonical)
                if account is not None:
                    settings = await privacy_store.get_privacy(conn, canonical)
        viewer_is_staff = viewer is not None and viewer.is_staff
        if account is None or not profile.is_visible(account, viewer_is_staff=viewer_is_staff):
            raise account_not_found()
        seen_by = Viewer(
            user_id=profile.canonical_user_id(viewer.user_id) if viewer is not None else None,
            is_staff=viewer_is_staff,
        )
        changed = max(account.updated_at, settings.updated_at or account.updated_at)
        return conditional(request, public_document(account, settings, seen_by), changed)

    @router.get(
        "",
        summary="All accounts (staff)",
        openapi_extra={"parameters": _LIST_PARAMETERS},
        dependencies=[Depends(require_roles(*sorted(STAFF)))],
    )
    async def list_accounts(request: Request) -> Response:
        query = parse_list_query(request, USERS_COLLECTION)
        async with db.connect() as conn:
            page, total = await store.list_accounts(
                conn,
                where=[*query.where, *_username_prefix(request)],
                order_by=query.order_by,
                offset=query.offset,
                limit=query.per_page,
            )
        items = [
            select_fields(
                resource(RESOURCE_TYPE, account.id, _attributes(profile.staff_profile(account))),
                query.fields,
            )
            for account in page
        ]
        return conditional(request, collection_document(items, query, total, request.url))

    return router
