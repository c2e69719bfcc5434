"""Auth: single-use tokens for e-mail verification and password reset (stored as SHA-256 only).

Revision ID: auth_0002
Revises: auth_0001
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "auth_0002"
down_revision = "auth_0001"
branch_labels = None
depends_on = None

UUID = postgresql.UUID(as_uuid=False)
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "one_time_tokens",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("user_id", UUID, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column("token_hash", sa.LargeBinary, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("used_at", TS, nullable=True),
        sa.CheckConstraint(
            "purpose IN ('verify_email', 'reset_password')", name="one_time_tokens_purpose_known"
        ),
    )
    op.create_index("one_time_tokens_hash_key", "one_time_tokens", ["token_hash"], unique=True)
    op.create_index("one_time_tokens_user_purpose", "one_time_tokens", ["user_id", "purpose"])


def downgrade() -> None:
    op.drop_table("one_time_tokens")
