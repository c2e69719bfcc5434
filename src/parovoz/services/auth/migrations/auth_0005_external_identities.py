"""Auth: VK ID, Odnoklassniki and Telegram identities linked to users.

Users signed up through a provider have no password (`users.password_hash` becomes nullable);
`oauth_states` keeps each authorization's server side (hashed state, PKCE verifier, purpose), and
`telegram_payloads_used` the hashes of spent Telegram Login payloads until they would expire.

Revision ID: auth_0005
Revises: auth_0004
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "auth_0005"
down_revision = "auth_0004"
branch_labels = None
depends_on = None

UUID = postgresql.UUID(as_uuid=False)
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.alter_column("users", "password_hash", existing_type=sa.Text, nullable=True)

    op.create_table(
        "external_identities",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("user_id", UUID, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("provider", sa.Text, nullable=False),
        sa.Column("external_id", sa.Text, nullable=False),
        sa.Column("display_name", sa.Text, nullable=True),
        sa.Column("email", sa.Text, nullable=True),
        sa.Column("linked_at", TS, nullable=False),
        sa.Column("last_used_at", TS, nullable=True),
        sa.UniqueConstraint("provider", "external_id", name="external_identities_provider_external_key"),
        # one account of each provider per user: unlinking names the provider
        sa.UniqueConstraint("user_id", "provider", name="external_identities_user_provider_key"),
    )

    op.create_table(
        "oauth_states",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("state_hash", sa.LargeBinary, nullable=False),
        # hash of the nonce in the browser's cookie: the state is only good in that browser
        sa.Column("browser_hash", sa.LargeBinary, nullable=False),
        sa.Column("provider", sa.Text, nullable=False),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column("user_id", UUID, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=True),
        sa.Column("code_verifier", sa.Text, nullable=False),
        sa.Column("accept_terms", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("client_ip", sa.Text, nullable=True),
        sa.Column("user_agent", sa.Text, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("used_at", TS, nullable=True),
        sa.CheckConstraint("purpose IN ('sign-in', 'sign-up', 'link')", name="oauth_states_purpose_known"),
    )
    op.create_index("oauth_states_state_hash_key", "oauth_states", ["state_hash"], unique=True)
    op.create_index("oauth_states_expires", "oauth_states", ["expires_at"])

    op.create_table(
        "telegram_payloads_used",
        sa.Column("payload_hash", sa.LargeBinary, primary_key=True),
        sa.Column("expires_at", TS, nullable=False),
    )
    op.create_index("telegram_payloads_used_expires", "telegram_payloads_used", ["expires_at"])


def downgrade() -> None:
    op.drop_table("telegram_payloads_used")
    op.drop_table("oauth_states")
    op.drop_table("external_identities")
    # fails while users without a password exist: they would lose their only way in
    op.alter_column("users", "password_hash", existing_type=sa.Text, nullable=False)
