"""An index on run attempts by pipeline and completion: the refresher recomputes a pipeline's
red periods from an instant on, reading only the outcomes that ended since then

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_run_attempts_org_id_pipeline_id_completed_at_ms",
        "run_attempts",
        ["org_id", "pipeline_id", "completed_at_ms"],
    )


def downgrade() -> None:
    op.drop_index("ix_run_attempts_org_id_pipeline_id_completed_at_ms", "run_attempts")
