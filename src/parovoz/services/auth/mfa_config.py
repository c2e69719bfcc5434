"""The second factor's settings (`PAROVOZ_AUTH_MFA_*`), defaults in `MfaLimits`."""

from __future__ import annotations

from parovoz.chassis.config import Settings
from parovoz.services.auth.domain.mfa import MfaLimits


def mfa_limits_from(settings: Settings) -> MfaLimits:
    num = settings.positive_int
    d = MfaLimits()
    return MfaLimits(
        challenge_ttl_s=num("AUTH_MFA_CHALLENGE_TTL", d.challenge_ttl_s),
        challenge_attempts=num("AUTH_MFA_CHALLENGE_ATTEMPTS", d.challenge_attempts),
        failures_per_user=num("AUTH_MFA_FAILURES_PER_USER", d.failures_per_user),
        failure_window_s=num("AUTH_MFA_FAILURE_WINDOW", d.failure_window_s),
    )
