"""28-day rollup blocks (stored by the refresher, so every partition is marked to be
recomputed) and covering indexes for red-period figures

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from alembic import op

from cipulse.storage.migration_helpers import mark_partitions

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_red_periods_org_id_ended_at_ms", table_name="red_periods")
    op.drop_index("ix_red_periods_org_id_pipeline_id", table_name="red_periods")
    op.create_index(
        "ix_red_periods_org_id_ended_at_ms_started_at_ms",
        "red_periods",
        ["org_id", "ended_at_ms", "started_at_ms"],
    )
    op.create_index(
        "ix_red_periods_org_id_pipeline_id_ended_at_ms_started_at_ms",
        "red_periods",
        ["org_id", "pipeline_id", "ended_at_ms", "started_at_ms"],
    )
    mark_partitions()


def downgrade() -> None:
    op.drop_index(
        "ix_red_periods_org_id_pipeline_id_ended_at_ms_started_at_ms", table_name="red_periods"
    )
    op.create_index("ix_red_periods_org_id_pipeline_id", "red_periods", ["org_id", "pipeline_id"])
    op.drop_index("ix_red_periods_org_id_ended_at_ms_started_at_ms", table_name="red_periods")
    op.create_index("ix_red_periods_org_id_ended_at_ms", "red_periods", ["org_id", "ended_at_ms"])
