"""Custom metric rollups: count, sum and histogram per pipeline, day or week, metric key and
tag value

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cipulse.storage.migration_helpers import mark_partitions

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_ID = sa.String(length=36).with_variant(sa.UUID(as_uuid=False), "postgresql")


def upgrade() -> None:
    op.create_table(
        "metric_rollups",
        sa.Column("org_id", _ID, nullable=False),
        sa.Column("grain", sa.SmallInteger(), nullable=False),
        sa.Column("period", sa.Integer(), nullable=False),
        sa.Column("pipeline_id", _ID, nullable=False),
        sa.Column("metric_key", sa.Text(), nullable=False),
        sa.Column("tag_key", sa.Text(), nullable=False, comment="'' for every value of the metric"),
        sa.Column("tag_value", sa.Text(), nullable=False),
        sa.Column("value_count", sa.Integer(), nullable=False),
        sa.Column("value_sum", sa.Float(), nullable=False),
        sa.Column("histogram", sa.Text(), nullable=False, comment="JSON (domain/histogram.py)"),
        sa.PrimaryKeyConstraint(
            "org_id",
            "grain",
            "period",
            "metric_key",
            "tag_key",
            "tag_value",
            "pipeline_id",
            name=op.f("pk_metric_rollups"),
        ),
    )
    # Partitions with custom metrics are refreshed again to fill the table.
    mark_partitions("source_format = 'trunk'")


def downgrade() -> None:
    op.drop_table("metric_rollups")
