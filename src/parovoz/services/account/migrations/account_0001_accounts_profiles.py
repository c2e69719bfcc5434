"""Accounts (identity copied from Auth, status) and their profiles.

Revision ID: account_0001
Revises:
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "account_0001"
down_revision = None
branch_labels = ("account",)
depends_on = "chassis_0001"


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Uuid(as_uuid=False), primary_key=True),
        sa.Column("username", sa.Text, nullable=False),
        sa.Column("email", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False, server_default="active"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('active', 'blocked')", name="accounts_status_known"),
    )
    # The staff listing's default order and its username prefix search.
    op.create_index("accounts_created_at", "accounts", ["created_at", "id"])
    op.create_index(
        "accounts_username_prefix",
        "accounts",
        [sa.text("lower(username) text_pattern_ops")],
    )
    op.create_table(
        "profiles",
        sa.Column(
            "user_id",
            sa.Uuid(as_uuid=False),
            sa.ForeignKey("accounts.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("display_name", sa.Text, nullable=False),
        sa.Column("avatar_url", sa.Text, nullable=True),
        sa.Column("bio", sa.Text, nullable=True),
        sa.Column("country", sa.Text, nullable=True),
        sa.Column("language", sa.Text, nullable=False),
        sa.Column("birth_date", sa.Date, nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("char_length(display_name) BETWEEN 1 AND 64", name="profiles_display_name_length"),
        sa.CheckConstraint("language IN ('ru', 'en')", name="profiles_language_known"),
        sa.CheckConstraint("country ~ '^[A-Z]{2}$'", name="profiles_country_alpha2"),
    )
    op.create_index("profiles_country", "profiles", ["country"])


def downgrade() -> None:
    op.drop_table("profiles")
    op.drop_table("accounts")
