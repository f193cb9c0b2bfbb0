"""A job page lists its latest failures from its pipeline's attempts, newest first, each
probed in a partial index on failed jobs by (organisation, definition key, attempt): three
equalities. The index of 0020 put the failure class before the attempt, so a probe could not
reach the attempt and the page read every failure of a shared name (``build``) in every
pipeline and every year (318 ms warm, 8 s cold, on 1,000,000 runs). The new index is as
small (one entry per failed job); the counts by class come from the job rollups. No figure
changes, so no partition is marked.

Revision ID: 0026
Revises: 0025
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

_OLD = "ix_jobs_org_id_definition_key_failed"
_NEW = "ix_jobs_org_id_definition_key_attempt_id_failed"
_FAILED = "failure_class IS NOT NULL"


def upgrade() -> None:
    op.drop_index(_OLD, table_name="jobs")
    op.create_index(
        _NEW,
        "jobs",
        ["org_id", "definition_key", "attempt_id"],
        sqlite_where=sa.text(_FAILED),
        postgresql_where=sa.text(_FAILED),
    )


def downgrade() -> None:
    op.drop_index(_NEW, table_name="jobs")
    op.create_index(
        _OLD,
        "jobs",
        ["org_id", "definition_key", "failure_class", "attempt_id", "node_key"],
        sqlite_where=sa.text(_FAILED),
        postgresql_where=sa.text(_FAILED),
    )
