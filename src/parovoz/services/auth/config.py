"""Auth's settings (`PAROVOZ_AUTH_*`), with the defaults the spec and OWASP fix."""

from __future__ import annotations

from dataclasses import dataclass, field

from parovoz.chassis.config import Settings
from parovoz.services.auth.domain.passwords import HashParams

# The local demo's password for demo@parovoz.local and admin@parovoz.local (README documents it);
# set PAROVOZ_AUTH_DEMO_PASSWORD anywhere the demo users are reachable by others.
DEFAULT_DEMO_PASSWORD = "parovoz-demo"


@dataclass(frozen=True)
class AuthConfig:
    access_ttl: int = 15 * 60
    refresh_ttl: int = 30 * 24 * 3600
    hash_params: HashParams = field(default_factory=HashParams)
    hash_workers: int = 2
    login_rate_per_min: int = 30  # per client address
    login_id_rate_per_min: int = 10  # per login identifier (e-mail or username)
    register_rate_per_min: int = 20  # per client address
    demo_password: str = DEFAULT_DEMO_PASSWORD

    @classmethod
    def from_settings(cls, settings: Settings) -> AuthConfig:
        def num(name: str, default: int) -> int:
            raw = settings.get(name)
            value = int(raw) if raw not in (None, "") else default
            if value <= 0:
                raise ValueError(f"PAROVOZ_{name} must be a positive integer")
            return value

        d = cls()
        return cls(
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
            demo_password=settings.get("AUTH_DEMO_PASSWORD") or d.demo_password,
        )
