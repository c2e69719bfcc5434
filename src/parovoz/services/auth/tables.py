"""Auth's tables (SQLAlchemy Core, mirroring the migrations) and the sessions collection spec."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from parovoz.chassis.rest.query import CollectionSpec

UUID = postgresql.UUID(as_uuid=False)
TS = sa.DateTime(timezone=True)
metadata = sa.MetaData()

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", UUID, primary_key=True),
    sa.Column("email", sa.Text, nullable=False),
    sa.Column("username", sa.Text, nullable=False),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("roles", postgresql.ARRAY(sa.Text), nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("email_verified", sa.Boolean, nullable=False),
    sa.Column("language", sa.Text, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id", UUID, primary_key=True),
    sa.Column("user_id", UUID, nullable=False),
    sa.Column("user_agent", sa.Text),
    sa.Column("client_ip", sa.Text),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("last_used_at", TS, nullable=False),
    sa.Column("revoked_at", TS),
    sa.Column("revoked_reason", sa.Text),
)

refresh_tokens = sa.Table(
    "refresh_tokens",
    metadata,
    sa.Column("id", UUID, primary_key=True),
    sa.Column("session_id", UUID, nullable=False),
    sa.Column("token_hash", sa.LargeBinary, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("expires_at", TS, nullable=False),
    sa.Column("used_at", TS),
    sa.Column("revoked_at", TS),
)

one_time_tokens = sa.Table(
    "one_time_tokens",
    metadata,
    sa.Column("id", UUID, primary_key=True),
    sa.Column("user_id", UUID, nullable=False),
    sa.Column("purpose", sa.Text, nullable=False),
    sa.Column("token_hash", sa.LargeBinary, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("expires_at", TS, nullable=False),
    sa.Column("used_at", TS),
)

signing_keys = sa.Table(
    "signing_keys",
    metadata,
    sa.Column("kid", sa.Text, primary_key=True),
    sa.Column("private_pem", sa.LargeBinary, nullable=False),
    sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
    sa.Column("retired_at", TS),
)

# GET /api/v1/auth/sessions: sorting by the two times, most recently used first by default.
SESSIONS_COLLECTION = CollectionSpec(
    fields={
        "id": sessions.c.id,
        "createdAt": sessions.c.created_at,
        "lastUsedAt": sessions.c.last_used_at,
    },
    sortable=("createdAt", "lastUsedAt"),
    default_sort=("-lastUsedAt",),
    selectable=dict.fromkeys(("userAgent", "ip", "createdAt", "lastUsedAt", "current")),
    tiebreaker="id",
)
