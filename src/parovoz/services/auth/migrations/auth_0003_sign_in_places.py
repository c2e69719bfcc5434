"""Auth: where sessions sign in from (country, city, device).

Revision ID: auth_0003
Revises: auth_0002
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "auth_0003"
down_revision = "auth_0002"
branch_labels = None
depends_on = None

UUID = postgresql.UUID(as_uuid=False)
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    # Where each session signed in from: GeoIP country (ISO 3166-1 alpha-2) and city, null when
    # unknown, and a short device name parsed from the user agent ("Chrome on Windows").
    op.add_column("sessions", sa.Column("country", sa.Text, nullable=True))
    op.add_column("sessions", sa.Column("city", sa.Text, nullable=True))
    op.add_column("sessions", sa.Column("device", sa.Text, nullable=True))
    op.create_check_constraint(
        "sessions_country_iso", "sessions", "country IS NULL OR country ~ '^[A-Z]{2}$'"
    )


def downgrade() -> None:
    op.drop_constraint("sessions_country_iso", "sessions", type_="check")
    op.drop_column("sessions", "device")
    op.drop_column("sessions", "city")
    op.drop_column("sessions", "country")
