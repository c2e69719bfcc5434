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
    sa.Column("password_hash", sa.Text),  # none for users signed up through VK, OK or Telegram
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
    # where it signed in from (auth_0003): GeoIP country and city, device from the user agent
    sa.Column("country", sa.Text),
    sa.Column("city", sa.Text),
    sa.Column("device", sa.Text),
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

# Two-factor authentication (auth_0004): store queries in mfa_store.py.
totp_credentials = sa.Table(
    "totp_credentials",
    metadata,
    sa.Column("user_id", UUID, primary_key=True),
    sa.Column("secret", sa.Text, nullable=False),
    sa.Column("confirmed_at", TS),  # null while the enrolment is pending
    sa.Column("last_used_step", sa.BigInteger),
    sa.Column("created_at", TS, nullable=False),
)

recovery_codes = sa.Table(
    "recovery_codes",
    metadata,
    sa.Column("user_id", UUID, primary_key=True),
    sa.Column("code_hash", sa.LargeBinary, primary_key=True),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("used_at", TS),
)

mfa_challenges = sa.Table(
    "mfa_challenges",
    metadata,
    sa.Column("id", UUID, primary_key=True),
    sa.Column("token_hash", sa.LargeBinary, nullable=False),
    sa.Column("user_id", UUID, nullable=False),
    sa.Column("user_agent", sa.Text),
    sa.Column("client_ip", sa.Text),
    sa.Column("method", sa.Text, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("expires_at", TS, nullable=False),
    sa.Column("failed_attempts", sa.Integer, nullable=False),
    sa.Column("used_at", TS),
)

mfa_failures = sa.Table(
    "mfa_failures",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("user_id", UUID, nullable=False),
    sa.Column("failed_at", TS, nullable=False),
)

external_identities = sa.Table(
    "external_identities",
    metadata,
    sa.Column("id", UUID, primary_key=True),
    sa.Column("user_id", UUID, nullable=False),
    sa.Column("provider", sa.Text, nullable=False),
    sa.Column("external_id", sa.Text, nullable=False),
    sa.Column("display_name", sa.Text),
    sa.Column("email", sa.Text),
    sa.Column("linked_at", TS, nullable=False),
    sa.Column("last_used_at", TS),
)

oauth_states = sa.Table(
    "oauth_states",
    metadata,
    sa.Column("id", UUID, primary_key=True),
    sa.Column("state_hash", sa.LargeBinary, nullable=False),
    sa.Column("browser_hash", sa.LargeBinary, nullable=False),
    sa.Column("provider", sa.Text, nullable=False),
    sa.Column("purpose", sa.Text, nullable=False),
    sa.Column("user_id", UUID),
    sa.Column("code_verifier", sa.Text, nullable=False),
    sa.Column("accept_terms", sa.Boolean, nullable=False),
    sa.Column("client_ip", sa.Text),
    sa.Column("user_agent", sa.Text),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("expires_at", TS, nullable=False),
    sa.Column("used_at", TS),
)

telegram_payloads_used = sa.Table(
    "telegram_payloads_used",
    metadata,
    sa.Column("payload_hash", sa.LargeBinary, primary_key=True),
    sa.Column("expires_at", TS, nullable=False),
)

# Failed password sign-ins under the hashed login and the hashed client address (sign_in_guard.py).
sign_in_failures = sa.Table(
    "sign_in_failures",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("key_hash", sa.LargeBinary, nullable=False),
    sa.Column("failed_at", TS, nullable=False),
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
    selectable=dict.fromkeys(
        ("device", "userAgent", "ip", "country", "city", "createdAt", "lastUsedAt", "current")
    ),
    tiebreaker="id",
)
