"""Auth: deleted (anonymised) users.

Revision ID: auth_0007
Revises: auth_0006
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "auth_0007"
down_revision = "auth_0006"
branch_labels = None
depends_on = None

UUID = postgresql.UUID(as_uuid=False)
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    # A deleted user keeps its row (ids referenced by sessions and the inbox stay valid) but holds
    # no personal data: placeholders for e-mail and username, no password hash (auth_0005 made
    # the column nullable), status `deleted`.
    op.drop_constraint("users_status_known", "users", type_="check")
    op.create_check_constraint("users_status_known", "users", "status IN ('active', 'blocked', 'deleted')")


def downgrade() -> None:
    op.drop_constraint("users_status_known", "users", type_="check")
    op.create_check_constraint("users_status_known", "users", "status IN ('active', 'blocked')")
