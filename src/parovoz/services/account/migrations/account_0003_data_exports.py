"""Account: 152-FZ data exports (the archive kept in PostgreSQL for 7 days).

Revision ID: account_0003
Revises: account_0002
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "account_0003"
down_revision = "account_0002"
branch_labels = None
depends_on = None

UUID = sa.Uuid(as_uuid=False)
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "data_exports",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("user_id", UUID, sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        # a pending export is claimed once this time has come (retries back off)
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        # a running export whose lease ran out was abandoned (its worker crashed): claimed again
        sa.Column("lease_until", TS, nullable=True),
        sa.Column("started_at", TS, nullable=True),
        sa.Column("completed_at", TS, nullable=True),
        sa.Column("expires_at", TS, nullable=True),
        sa.Column("archive", sa.LargeBinary, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'running', 'completed', 'failed')", name="data_exports_status_known"
        ),
    )
    op.create_index("data_exports_user_created", "data_exports", ["user_id", "created_at"])
    # One export in flight per user, whatever races the API loses.
    op.create_index(
        "data_exports_one_in_flight",
        "data_exports",
        ["user_id"],
        unique=True,
        postgresql_where=sa.text("status IN ('pending', 'running')"),
    )
    # What the job polls: the work still to do.
    op.create_index(
        "data_exports_to_do",
        "data_exports",
        ["next_attempt_at"],
        postgresql_where=sa.text("status IN ('pending', 'running')"),
    )


def downgrade() -> None:
    op.drop_table("data_exports")
