"""Each organisation gets a rate card and a currency: ``rates`` holds prices per minute by
provider and runner label-set pattern, each from an effective day on, in integer
micro-units (``domain/billing.py``, ``domain/money.py``); ``organisations.currency`` is the
ISO 4217 code they are in, USD unless chosen. The card starts empty (costs unknown) until
an organisation sets rates or loads the published ones. No figure changes, so no partition
is marked.

Revision ID: 0024
Revises: 0023
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

_ID = sa.String(36).with_variant(postgresql.UUID(as_uuid=False), "postgresql")


def upgrade() -> None:
    # A plain ADD COLUMN (with its default) on both databases: SQLite's batch mode would
    # copy and drop ``organisations``, which every table refers to.
    op.add_column(
        "organisations",
        sa.Column(
            "currency",
            sa.String(3),
            nullable=False,
            server_default="USD",
            comment="ISO 4217: the currency of its rate card and costs (domain/money.py)",
        ),
    )
    op.create_table(
        "rates",
        sa.Column("org_id", _ID, nullable=False),
        sa.Column("provider", sa.String(100), nullable=False, comment="* for every provider"),
        sa.Column("pattern", sa.String(500), nullable=False, comment="a label set, or with *"),
        sa.Column(
            "effective_day", sa.Integer(), nullable=False, comment="days since the epoch, UTC"
        ),
        sa.Column("price_micros", sa.BigInteger(), nullable=False, comment="a minute, micro-units"),
        sa.Column("platform_micros", sa.BigInteger(), nullable=False, comment="a minute, on top"),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "provider", "pattern", "effective_day", name="pk_rates"),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name="fk_rates_org_id_organisations"
        ),
    )


def downgrade() -> None:
    op.drop_table("rates")
    op.drop_column("organisations", "currency")
