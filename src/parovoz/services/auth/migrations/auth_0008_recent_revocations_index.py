"""Auth: an index on when sessions ended, so that Auth's start (which puts the sessions ended
within the access-token lifetime back on the revocation list) reads a few rows, not the table.

Revision ID: auth_0008
Revises: auth_0007
Create Date: 2026-11-27
"""

from alembic import op

revision = "auth_0008"
down_revision = "auth_0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "sessions_revoked_at",
        "sessions",
        ["revoked_at"],
        postgresql_where="revoked_at IS NOT NULL",
    )


def downgrade() -> None:
    op.drop_index("sessions_revoked_at", table_name="sessions")
