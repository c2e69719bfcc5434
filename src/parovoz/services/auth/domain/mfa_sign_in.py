"""The second step of a sign-in challenged for 2FA: the challenge's token and a code → tokens."""

from __future__ import annotations

from parovoz.services.auth.domain import errors, mfa_errors
from parovoz.services.auth.domain.flows import AuthFlows, TokenPair


async def finish_sign_in(
    flows: AuthFlows, mfa_token: str, code: str, *, user_agent: str | None, client_ip: str | None
) -> TokenPair:
    """Spend the challenge with a code (mfa.MfaFlows.redeem_challenge) and open the session the
    first step would have opened: the same `start_session` outcome, one factor later."""
    if flows.mfa is None:
        raise mfa_errors.invalid_mfa_token()
    user_id, method = await flows.mfa.redeem_challenge(
        mfa_token, code, user_agent=user_agent, client_ip=client_ip
    )
    user = await flows.store.user_by_id(user_id)
    if user is None:
        raise mfa_errors.invalid_mfa_token()
    # blocked between the two steps: refused like any sign-in of a blocked user
    if user.is_blocked:
        raise errors.account_blocked()
    return await flows.open_session(user, user_agent=user_agent, client_ip=client_ip, method=method)
