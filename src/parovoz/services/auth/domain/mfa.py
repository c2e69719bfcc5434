"""Two-factor authentication (TOTP, RFC 6238) and recovery codes: being written (issue 3)."""

from __future__ import annotations


class MfaFlows:
    """The second factor's use cases. Other flows rely on these two methods."""

    async def is_enabled(self, user_id: str) -> bool:
        raise NotImplementedError

    async def verify_code_for(self, user_id: str, code: str | None) -> None:
        """When the user has 2FA on, spend `code` (a TOTP code or a recovery code, no replay);
        raises ApiError 401 MFA_CODE_REQUIRED when it is missing, 401 INVALID_MFA_CODE when wrong.
        Nothing happens when 2FA is off."""
        raise NotImplementedError
