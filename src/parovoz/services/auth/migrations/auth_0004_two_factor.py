"""Auth: TOTP two-factor credentials, recovery codes and sign-in challenges.

Revision ID: auth_0004
Revises: auth_0003
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "auth_0004"
down_revision = "auth_0003"
branch_labels = None
depends_on = None

UUID = postgresql.UUID(as_uuid=False)
TS = sa.DateTime(timezone=True)


def _user_fk() -> sa.ForeignKey:
    return sa.ForeignKey("users.id", ondelete="CASCADE")


def upgrade() -> None:
    # One credential per user: pending (confirmed_at null) until a first code confirms it. The
    # secret must be readable to compute codes, so it is stored as is (never returned after enrolment).
    op.create_table(
        "totp_credentials",
        sa.Column("user_id", UUID, _user_fk(), primary_key=True),
        sa.Column("secret", sa.Text, nullable=False),
        sa.Column("confirmed_at", TS, nullable=True),
        # the last time step accepted: a code is accepted only for a later step (no replay)
        sa.Column("last_used_step", sa.BigInteger, nullable=True),
        sa.Column("created_at", TS, nullable=False),
    )

    # SHA-256 of each single-use recovery code (the codes are shown once).
    op.create_table(
        "recovery_codes",
        sa.Column("user_id", UUID, _user_fk(), primary_key=True),
        sa.Column("code_hash", sa.LargeBinary, primary_key=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("used_at", TS, nullable=True),
    )

    # A sign-in whose first factor is proven, waiting for the code (the token stored as SHA-256).
    op.create_table(
        "mfa_challenges",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("token_hash", sa.LargeBinary, nullable=False),
        sa.Column("user_id", UUID, _user_fk(), nullable=False),
        sa.Column("user_agent", sa.Text, nullable=True),
        sa.Column("client_ip", sa.Text, nullable=True),
        sa.Column("method", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("failed_attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("used_at", TS, nullable=True),
    )
    op.create_index("mfa_challenges_token_hash_key", "mfa_challenges", ["token_hash"], unique=True)
    op.create_index("mfa_challenges_user", "mfa_challenges", ["user_id"])

    # Wrong codes per user within the failure window (older rows are pruned as new ones come).
    op.create_table(
        "mfa_failures",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("user_id", UUID, _user_fk(), nullable=False),
        sa.Column("failed_at", TS, nullable=False),
    )
    op.create_index("mfa_failures_user_time", "mfa_failures", ["user_id", "failed_at"])


def downgrade() -> None:
    for table in ("mfa_failures", "mfa_challenges", "recovery_codes", "totp_credentials"):
        op.drop_table(table)
