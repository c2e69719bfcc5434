"""The signed-in caller's own account, for the `/users/me/...` routes."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from parovoz.chassis.security.principal import Principal
from parovoz.services.account import store
from parovoz.services.account.domain import profile
from parovoz.services.account.domain.deletion import is_deleted
from parovoz.services.account.domain.profile import Account
from parovoz.services.account.errors import account_not_found


def caller_id(caller: Principal) -> str:
    """The caller's user id in canonical form; 404 when the token's subject is no UUID."""
    user_id = profile.canonical_user_id(caller.user_id)
    if user_id is None:
        raise account_not_found()
    return user_id


async def own_account(conn: AsyncConnection, caller: Principal, *, for_update: bool = False) -> Account:
    """The caller's account; 404 ACCOUNT_NOT_FOUND when there is none yet (Auth's event is not
    handled) or it was deleted (a deleted account is nobody's)."""
    account = await store.get_account(conn, caller_id(caller), for_update=for_update)
    if account is None or is_deleted(account):
        raise account_not_found()
    return account
