"""28-day rollup blocks (stored by the refresher, so every partition is marked to be
recomputed) and covering indexes for red-period figures

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from alembic import op

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
    new_id = (
        "gen_random_uuid()"
        if op.get_bind().dialect.name == "postgresql"
        else "lower(hex(randomblob(16)))"
    )
    op.execute(
        f"INSERT INTO rollup_dirty (org_id, id, pipeline_id, day, marked_at_ms) "
        f"SELECT org_id, {new_id}, pipeline_id, day, 0 FROM ("
        f"SELECT DISTINCT org_id, pipeline_id, started_at_ms / 86400000 AS day "
        f"FROM run_attempts WHERE started_at_ms IS NOT NULL) AS partitions"
    )


def downgrade() -> None:
    op.drop_index(
        "ix_red_periods_org_id_pipeline_id_ended_at_ms_started_at_ms", table_name="red_periods"
    )
    op.create_index("ix_red_periods_org_id_pipeline_id", "red_periods", ["org_id", "pipeline_id"])
    op.drop_index("ix_red_periods_org_id_ended_at_ms_started_at_ms", table_name="red_periods")
    op.create_index("ix_red_periods_org_id_ended_at_ms", "red_periods", ["org_id", "ended_at_ms"])
