"""A job page no longer reads its latest failures through the partial index on failed jobs
(0020): that index held every failure of a definition key across all pipelines and all
time, so a shared name (``build``) made the read grow with the organisation (318 ms warm on
1,000,000 runs). The page now searches the pipeline's latest attempts of the window
(``storage/job_store.py``) and counts failures by class from the job rollups, so the index
only cost every ingested failure an entry. No figure changes, so no partition is marked.

Revision ID: 0028
Revises: 0025
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0025"
branch_labels = None
depends_on = None

_NAME = "ix_jobs_org_id_definition_key_failed"


def upgrade() -> None:
    op.drop_index(_NAME, table_name="jobs")


def downgrade() -> None:
    op.create_index(
        _NAME,
        "jobs",
        ["org_id", "definition_key", "failure_class", "attempt_id", "node_key"],
        sqlite_where=sa.text("failure_class IS NOT NULL"),
        postgresql_where=sa.text("failure_class IS NOT NULL"),
    )
