"""An index on run attempts by pipeline, branch and completion, for the run page's triage:
the previous green run of a pipeline and branch, the runs since, and the runs of the last 30
days whose jobs give each job's usual duration (``storage/triage_store.py``). ``status``
closes the index, so looking back past failing attempts reads the index alone. No figure
changes, so no partition is marked.

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

NAME = "ix_run_attempts_org_id_pipeline_id_branch_completed_at_ms"


def upgrade() -> None:
    op.create_index(
        NAME,
        "run_attempts",
        ["org_id", "pipeline_id", "branch", "completed_at_ms", "status"],
    )


def downgrade() -> None:
    op.drop_index(NAME, table_name="run_attempts")
