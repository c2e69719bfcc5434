"""Configuration from the environment (`PAROVOZ_*`), the same names in both run modes.

The embedded runtime fills the same settings itself (database URLs of its private PostgreSQL,
loopback gRPC addresses), so business code reads one `Settings` whatever the mode.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

PREFIX = "PAROVOZ_"


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    """Settings of one process (one service, the gateway, or the whole embedded platform)."""

    mode: str = "distributed"  # "embedded" | "distributed"
    env: Mapping[str, str] = field(default_factory=dict)  # the PAROVOZ_* variables, for service extras
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    grpc_host: str = "127.0.0.1"
    grpc_port: int = 50051
    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_idempotence: bool = True  # off for brokers that lack InitProducerId (the test broker)
    redis_url: str | None = None
    grpc_tls_cert: str | None = None
    grpc_tls_key: str | None = None
    grpc_tls_ca: str | None = None
    cors_origins: tuple[str, ...] = ()
    max_body_bytes: int = 1024 * 1024
    db_pool_size: int = 20  # connections per service database and process
    log_level: str = "INFO"
    log_json: bool = True
    demo_data: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        src = os.environ if environ is None else environ
        env = {k[len(PREFIX) :]: v for k, v in src.items() if k.startswith(PREFIX)}
        s = cls(
            mode=env.get("MODE", "distributed"),
            env=env,
            http_host=env.get("HTTP_HOST", "127.0.0.1"),
            http_port=int(env.get("HTTP_PORT", "8000")),
            grpc_host=env.get("GRPC_HOST", "127.0.0.1"),
            grpc_port=int(env.get("GRPC_PORT", "50051")),
            kafka_bootstrap=env.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
            kafka_idempotence=_bool(env.get("KAFKA_IDEMPOTENCE"), True),
            redis_url=env.get("REDIS_URL") or None,
            grpc_tls_cert=env.get("GRPC_TLS_CERT") or None,
            grpc_tls_key=env.get("GRPC_TLS_KEY") or None,
            grpc_tls_ca=env.get("GRPC_TLS_CA") or None,
            cors_origins=tuple(o.strip() for o in env.get("CORS_ORIGINS", "").split(",") if o.strip()),
            max_body_bytes=int(env.get("MAX_BODY_BYTES", str(1024 * 1024))),
            db_pool_size=int(env.get("DB_POOL_SIZE", "20")),
            log_level=env.get("LOG_LEVEL", "INFO").upper(),
            log_json=_bool(env.get("LOG_JSON"), True),
            demo_data=_bool(env.get("DEMO_DATA"), False),
        )
        return replace(s, **overrides) if overrides else s  # type: ignore[arg-type]

    def get(self, name: str, default: str | None = None) -> str | None:
        """A raw setting without the prefix, e.g. `get("AUTH_ACCESS_TTL")`."""
        return self.env.get(name, default)

    def positive_int(self, name: str, default: int) -> int:
        """A whole-number setting above zero (`default` when unset); anything else stops the
        start with a message naming the variable."""
        raw = self.env.get(name)
        if raw in (None, ""):
            return default
        try:
            value = int(raw)
        except ValueError:
            value = 0
        if value <= 0:
            raise ValueError(f"PAROVOZ_{name} must be a positive integer, not {raw!r}")
        return value

    def database_url(self, service: str) -> str:
        """`PAROVOZ_<SERVICE>_DATABASE_URL`, else `PAROVOZ_DATABASE_URL`."""
        url = self.env.get(f"{service.upper()}_DATABASE_URL") or self.env.get("DATABASE_URL")
        if not url:
            raise RuntimeError(f"set PAROVOZ_{service.upper()}_DATABASE_URL or PAROVOZ_DATABASE_URL")
        return url

    def peer_grpc(self, service: str) -> str:
        """`PAROVOZ_<SERVICE>_GRPC` (host:port) of a peer service."""
        addr = self.env.get(f"{service.upper()}_GRPC")
        if not addr:
            raise RuntimeError(f"set PAROVOZ_{service.upper()}_GRPC to the {service} service's gRPC address")
        return addr

    def peer_http(self, service: str) -> str | None:
        """`PAROVOZ_<SERVICE>_HTTP` (base URL) of a service, for the gateway."""
        return self.env.get(f"{service.upper()}_HTTP")
