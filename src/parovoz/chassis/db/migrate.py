"""Alembic migrations per service database.

Every service database carries two branches: `chassis` (outbox, inbox, idempotency keys: the
versions under `chassis/db/chassis_versions/`) and the service's own (`services/<name>/migrations/`).
One shared `env.py` (in `chassis/db/alembic/`) runs them; `upgrade heads` applies both.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text

from parovoz.chassis.db import Database

_HERE = Path(__file__).parent
CHASSIS_VERSIONS = _HERE / "chassis_versions"


def alembic_config(version_dirs: list[Path]) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_HERE / "alembic"))
    cfg.set_main_option("version_locations", " ".join(str(d) for d in version_dirs))
    cfg.set_main_option("path_separator", "space")
    return cfg


def _upgrade(conn: Connection, version_dirs: list[Path]) -> None:
    cfg = alembic_config(version_dirs)
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, "heads")


async def migrate(db: Database, service_versions: Path | None, *, with_chassis: bool = True) -> None:
    """Bring `db` to the newest schema: the chassis tables plus the service's own history."""
    dirs = ([CHASSIS_VERSIONS] if with_chassis else []) + ([service_versions] if service_versions else [])
    async with db.engine.begin() as conn:
        # Replicas starting together must not run the same migration twice.
        await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('parovoz-migrate'))"))
        await conn.run_sync(_upgrade, dirs)
