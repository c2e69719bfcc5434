"""Account: status reason and history, deleted accounts, privacy, settings, 152-FZ consents.

Revision ID: account_0002
Revises: account_0001
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "account_0002"
down_revision = "account_0001"
branch_labels = None
depends_on = None

UUID = sa.Uuid(as_uuid=False)
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    # The current status with why, when and by whom it was set; `account_status_history` keeps
    # every change.
    op.add_column("accounts", sa.Column("status_reason", sa.Text, nullable=True))
    op.add_column("accounts", sa.Column("status_changed_at", TS, nullable=True))
    op.add_column("accounts", sa.Column("status_changed_by", UUID, nullable=True))
    op.drop_constraint("accounts_status_known", "accounts", type_="check")
    op.create_check_constraint(
        "accounts_status_known", "accounts", "status IN ('active', 'blocked', 'deleted')"
    )
    op.create_table(
        "account_status_history",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("user_id", UUID, sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("changed_by", UUID, nullable=True),
        sa.Column("changed_at", TS, nullable=False),
    )
    op.create_index("account_status_history_user", "account_status_history", ["user_id", "changed_at"])

    op.create_table(
        "privacy_settings",
        sa.Column("user_id", UUID, sa.ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("visibility", sa.Text, nullable=False),
        sa.Column("show_playtime", sa.Boolean, nullable=False),
        sa.Column("show_library", sa.Boolean, nullable=False),
        sa.Column("show_online_status", sa.Boolean, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.CheckConstraint("visibility IN ('public', 'friends', 'private')", name="privacy_visibility_known"),
    )
    op.create_table(
        "account_settings",
        sa.Column("user_id", UUID, sa.ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True),
        # {"email": {"security": true, ...}, "push": {...}}; the language stays in `profiles`
        sa.Column("notifications", postgresql.JSONB, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "consents",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("user_id", UUID, sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column("version", sa.Text, nullable=False),
        sa.Column("given_at", TS, nullable=False),
        sa.Column("ip", sa.Text, nullable=True),
        sa.Column("user_agent", sa.Text, nullable=True),
        sa.Column("withdrawn_at", TS, nullable=True),
        sa.Column("withdrawn_ip", sa.Text, nullable=True),
        sa.Column("withdrawn_user_agent", sa.Text, nullable=True),
        sa.UniqueConstraint("user_id", "purpose", "version", name="consents_user_purpose_version_key"),
    )


def downgrade() -> None:
    op.drop_table("consents")
    op.drop_table("account_settings")
    op.drop_table("privacy_settings")
    op.drop_table("account_status_history")
    op.execute("UPDATE accounts SET status = 'blocked' WHERE status = 'deleted'")
    op.drop_constraint("accounts_status_known", "accounts", type_="check")
    op.create_check_constraint("accounts_status_known", "accounts", "status IN ('active', 'blocked')")
    op.drop_column("accounts", "status_changed_by")
    op.drop_column("accounts", "status_changed_at")
    op.drop_column("accounts", "status_reason")
