"""Retention and account management: the day before which an organisation's runs were
purged (its figures live on in the rollups), and disabled dashboard users

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


# Plain ALTER TABLE, not a batch (a copy of the table): other tables refer to both, and
# SQLite cannot drop a referenced table while foreign keys are on (DROP COLUMN needs
# SQLite 3.35 or later).


def upgrade() -> None:
    op.add_column(
        "organisations",
        sa.Column(
            "purged_before_day",
            sa.Integer(),
            nullable=True,
            comment="Days since the epoch: the runs of earlier days were purged; their "
            "figures are kept in the rollups and no longer recomputed "
            "(storage/retention.py)",
        ),
    )
    op.add_column(
        "users",
        sa.Column(
            "disabled_at_ms",
            sa.BigInteger(),
            nullable=True,
            comment="Set: the user cannot sign in; their sessions were ended",
        ),
    )


def downgrade() -> None:
    op.drop_column("users", "disabled_at_ms")
    op.drop_column("organisations", "purged_before_day")
