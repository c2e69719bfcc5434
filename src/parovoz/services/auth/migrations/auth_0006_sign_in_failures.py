"""Auth: failed sign-in counts behind growing delays and the captcha requirement.

Revision ID: auth_0006
Revises: auth_0005
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "auth_0006"
down_revision = "auth_0005"
branch_labels = None
depends_on = None

UUID = postgresql.UUID(as_uuid=False)
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    # One row per failed password sign-in, twice: under the hashed login and under the hashed
    # client address (`kind` tells which). Rows older than the longest window (an hour) are purged.
    op.create_table(
        "sign_in_failures",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("key_hash", sa.LargeBinary, nullable=False),
        sa.Column("failed_at", TS, nullable=False),
        sa.CheckConstraint("kind IN ('login', 'ip')", name="sign_in_failures_kind"),
    )
    op.create_index("sign_in_failures_key_time", "sign_in_failures", ["key_hash", "failed_at"])
    op.create_index("sign_in_failures_time", "sign_in_failures", ["failed_at"])


def downgrade() -> None:
    op.drop_table("sign_in_failures")
