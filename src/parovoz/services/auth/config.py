"""Auth's settings (`PAROVOZ_AUTH_*`), with the defaults the spec and OWASP fix."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from parovoz.chassis.config import Settings
from parovoz.services.auth.domain.passwords import HashParams

# The local demo's password for demo@parovoz.local and admin@parovoz.local (README documents it);
# set PAROVOZ_AUTH_DEMO_PASSWORD anywhere the demo users are reachable by others.
DEFAULT_DEMO_PASSWORD = "parovoz-demo"
# OWASP's argon2id minimum is 19 MiB with t=2; its cheaper rows trade memory for passes at the same
# product, so the configured memory × passes may not fall below it.
MIN_ARGON2_COST = 19 * 1024 * 2


@dataclass(frozen=True)
class AuthConfig:
    access_ttl: int = 15 * 60
    refresh_ttl: int = 30 * 24 * 3600
    hash_params: HashParams = field(default_factory=HashParams)
    # Half the cores: a login flood then leaves the other half to every other route.
    hash_workers: int = field(default_factory=lambda: max(1, (os.cpu_count() or 2) // 2))
    login_rate_per_min: int = 30  # per client address
    login_id_rate_per_min: int = 10  # per login identifier (e-mail or username)
    register_rate_per_min: int = 20  # per client address
    password_forgot_rate_per_min: int = 5  # per client address
    password_forgot_email_rate_per_hour: int = 5  # per e-mail address (no mail-bombing)
    # password/forgot answers no sooner than this: a known address (token + outbox write) and an
    # unknown one (a lookup only) then take the same time (no enumeration by timing)
    password_forgot_min_ms: int = 200
    one_time_token_rate_per_min: int = 30  # verify and reset, per client address
    demo_password: str = DEFAULT_DEMO_PASSWORD
    # The versions of the user agreement and the privacy policy that sign-up agrees to (152-FZ
    # consent records carry them); raise them when the documents change.
    terms_version: str = "2026-11-01"
    privacy_version: str = "2026-11-01"

    @classmethod
    def from_settings(cls, settings: Settings) -> AuthConfig:
        num = settings.positive_int

        d = cls()
        config = cls(
            access_ttl=num("AUTH_ACCESS_TTL", d.access_ttl),
            refresh_ttl=num("AUTH_REFRESH_TTL", d.refresh_ttl),
            hash_params=HashParams(
                memory_kib=num("AUTH_ARGON2_MEMORY_KIB", d.hash_params.memory_kib),
                time_cost=num("AUTH_ARGON2_TIME_COST", d.hash_params.time_cost),
                parallelism=num("AUTH_ARGON2_PARALLELISM", d.hash_params.parallelism),
            ),
            hash_workers=num("AUTH_HASH_WORKERS", d.hash_workers),
            login_rate_per_min=num("AUTH_LOGIN_RATE_PER_MIN", d.login_rate_per_min),
            login_id_rate_per_min=num("AUTH_LOGIN_ID_RATE_PER_MIN", d.login_id_rate_per_min),
            register_rate_per_min=num("AUTH_REGISTER_RATE_PER_MIN", d.register_rate_per_min),
            password_forgot_rate_per_min=num(
                "AUTH_PASSWORD_FORGOT_RATE_PER_MIN", d.password_forgot_rate_per_min
            ),
            password_forgot_email_rate_per_hour=num(
                "AUTH_PASSWORD_FORGOT_EMAIL_RATE_PER_HOUR", d.password_forgot_email_rate_per_hour
            ),
            password_forgot_min_ms=num("AUTH_PASSWORD_FORGOT_MIN_MS", d.password_forgot_min_ms),
            one_time_token_rate_per_min=num(
                "AUTH_ONE_TIME_TOKEN_RATE_PER_MIN", d.one_time_token_rate_per_min
            ),
            demo_password=settings.get("AUTH_DEMO_PASSWORD") or d.demo_password,
            terms_version=settings.get("AUTH_TERMS_VERSION") or d.terms_version,
            privacy_version=settings.get("AUTH_PRIVACY_VERSION") or d.privacy_version,
        )
        params = config.hash_params
        if params.memory_kib * params.time_cost < MIN_ARGON2_COST:
            raise ValueError(
                "PAROVOZ_AUTH_ARGON2_MEMORY_KIB × PAROVOZ_AUTH_ARGON2_TIME_COST is below OWASP's minimum "
                f"({MIN_ARGON2_COST} KiB passes, e.g. 19456 KiB × 2)"
            )
        return config
