"""gRPC adapter of Account: `AccountService` lookups for Payment, Social, Developer and Admin, and
`SetAccountStatus` (block / unblock) for Admin.

Servicers raise `ApiError`; the chassis server interceptor turns it into the gRPC status with
`ErrorInfo.reason` = the same code REST would use.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from parovoz.chassis.errors import ApiError
from parovoz.chassis.rpc.convert import timestamp
from parovoz.chassis.rpc.identity import allowed_callers, calling_user
from parovoz.chassis.service import GrpcRegistration, ServiceContext
from parovoz.protos.platform.account.v1 import account_pb2, account_pb2_grpc
from parovoz.services.account import privacy_store, store
from parovoz.services.account.data_errors import ACCOUNT_DELETED
from parovoz.services.account.domain import privacy, profile
from parovoz.services.account.domain.privacy import Privacy
from parovoz.services.account.domain.profile import Account
from parovoz.services.account.errors import (
    INVALID_ACCOUNT_STATUS,
    INVALID_BLOCK_REASON,
    INVALID_USER_ID,
    MAX_BATCH,
    MAX_BLOCK_REASON,
    TOO_MANY_USER_IDS,
    account_not_found,
)
from parovoz.services.account.events import emit_user_blocked

SERVICE_NAME = "platform.account.v1.AccountService"

_STATUS = {
    profile.STATUS_ACTIVE: account_pb2.ACCOUNT_STATUS_ACTIVE,
    profile.STATUS_BLOCKED: account_pb2.ACCOUNT_STATUS_BLOCKED,
}
# Staff sets only these two; a deletion is the user's own act (DELETE /users/me), never undone.
_STATUS_OF_PROTO = {proto: status for status, proto in _STATUS.items()}
_STATUS[profile.STATUS_DELETED] = account_pb2.ACCOUNT_STATUS_DELETED
_VISIBILITY = {
    privacy.PUBLIC: account_pb2.PROFILE_VISIBILITY_PUBLIC,
    privacy.FRIENDS: account_pb2.PROFILE_VISIBILITY_FRIENDS,
    privacy.PRIVATE: account_pb2.PROFILE_VISIBILITY_PRIVATE,
}


def privacy_message(settings: Privacy) -> account_pb2.Privacy:
    return account_pb2.Privacy(
        visibility=_VISIBILITY.get(settings.visibility, account_pb2.PROFILE_VISIBILITY_UNSPECIFIED),
        show_playtime=settings.show_playtime,
        show_library=settings.show_library,
        show_online_status=settings.show_online_status,
    )


def account_message(account: Account, settings: Privacy | None = None) -> account_pb2.Account:
    """The proto form of an account with its privacy settings (the defaults when not given);
    proto3 strings have no null, so absent values are ""."""
    return account_pb2.Account(
        privacy=privacy_message(settings or Privacy()),
        status_reason=account.status_reason or "",
        id=account.id,
        username=account.username,
        email=account.email,
        display_name=account.display_name,
        avatar_url=account.avatar_url or "",
        bio=account.bio or "",
        country=account.country or "",
        language=account.language,
        birth_date=account.birth_date.isoformat() if account.birth_date else "",
        status=_STATUS.get(account.status, account_pb2.ACCOUNT_STATUS_UNSPECIFIED),
        created_at=timestamp(account.created_at),
        updated_at=timestamp(account.updated_at),
    )


def _user_id(raw: str, parameter: str) -> str:
    user_id = profile.canonical_user_id(raw)
    if user_id is None:
        raise ApiError(400, INVALID_USER_ID, parameter=parameter)
    return user_id


def _changed_by(request: account_pb2.SetAccountStatusRequest) -> str | None:
    """The deciding staff member: as the request names them, else the user the call acts for."""
    named = profile.canonical_user_id(request.changed_by) if request.changed_by else None
    if named is not None:
        return named
    staff = calling_user.get()
    return profile.canonical_user_id(staff.user_id) if staff is not None else None


def _block_reason(raw: str, status: str) -> str | None:
    """The trimmed reason; required (1..MAX_BLOCK_REASON) when blocking, optional otherwise."""
    reason = raw.strip()
    if len(reason) > MAX_BLOCK_REASON or (status == profile.STATUS_BLOCKED and not reason):
        raise ApiError(400, INVALID_BLOCK_REASON, parameter="reason", params={"max": MAX_BLOCK_REASON})
    return reason or None


class AccountServicer(account_pb2_grpc.AccountServiceServicer):
    """Lookups return blocked accounts too (with their status): callers are services."""

    def __init__(self, ctx: ServiceContext) -> None:
        self._db = ctx.db

    async def GetAccount(self, request: account_pb2.GetAccountRequest, context: Any) -> Any:
        user_id = _user_id(request.user_id, "user_id")
        async with self._db.connect() as conn:
            account = await store.get_account(conn, user_id)
            settings = await privacy_store.get_privacy(conn, user_id) if account else None
        if account is None:
            raise account_not_found()
        return account_pb2.GetAccountResponse(account=account_message(account, settings))

    async def GetAccounts(self, request: account_pb2.GetAccountsRequest, context: Any) -> Any:
        requested: Sequence[str] = request.user_ids
        if len(requested) > MAX_BATCH:
            raise ApiError(400, TOO_MANY_USER_IDS, parameter="user_ids", params={"max": MAX_BATCH})
        # raw id as sent -> canonical form; missing ids are reported the way the caller wrote them
        canonical = {raw: _user_id(raw, f"user_ids[{i}]") for i, raw in enumerate(requested)}
        async with self._db.connect() as conn:
            found = await store.get_accounts(conn, sorted(set(canonical.values())))
            settings = await privacy_store.get_privacies(conn, [account.id for account in found])
        found_ids = {account.id for account in found}
        missing = [raw for raw, user_id in canonical.items() if user_id not in found_ids]
        return account_pb2.GetAccountsResponse(
            accounts=[account_message(account, settings[account.id]) for account in found],
            missing_ids=missing,
        )

    @allowed_callers("admin")  # a staff action: only the Admin service may block and unblock
    async def SetAccountStatus(self, request: account_pb2.SetAccountStatusRequest, context: Any) -> Any:
        user_id = _user_id(request.user_id, "user_id")
        status = _STATUS_OF_PROTO.get(request.status)
        if status is None:
            raise ApiError(400, INVALID_ACCOUNT_STATUS, parameter="status")
        reason = _block_reason(request.reason, status)
        async with self._db.transaction() as uow:
            # Locked: two staff calls at once cannot both see the old status and both emit.
            account = await store.get_account(uow.conn, user_id, for_update=True)
            if account is None:
                raise account_not_found()
            if account.status == profile.STATUS_DELETED:
                raise ApiError(409, ACCOUNT_DELETED)
            changed = account.status != status
            if changed:
                now = datetime.now(UTC)
                await store.set_status(
                    uow.conn, user_id, status, now=now, reason=reason, changed_by=_changed_by(request)
                )
                await emit_user_blocked(
                    uow,
                    user_id,
                    blocked=status == profile.STATUS_BLOCKED,
                    reason=reason,
                    changed_at=now,
                )
                account = await store.get_account(uow.conn, user_id)
            settings = await privacy_store.get_privacy(uow.conn, user_id)
        assert account is not None  # locked by the transaction above: it cannot vanish
        return account_pb2.SetAccountStatusResponse(
            account=account_message(account, settings), changed=changed
        )


def grpc_registrations(ctx: ServiceContext) -> list[GrpcRegistration]:
    return [
        GrpcRegistration(
            name=SERVICE_NAME,
            servicer=AccountServicer(ctx),
            add_to_server=account_pb2_grpc.add_AccountServiceServicer_to_server,
        )
    ]
