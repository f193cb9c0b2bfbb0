"""A job page reads the failed executions of one job: a partial index on the jobs that
failed with a class (``failure_class`` set, a few percent of the rows), by organisation and
definition key, holding the class, the attempt and the node, so that counting a job's failures per
class and listing its latest ones never scans the jobs of its pipeline. Jobs stored before
0017 have no class and are not in it. No figure changes, so no partition is marked.

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

_NAME = "ix_jobs_org_id_definition_key_failed"


def upgrade() -> None:
    op.create_index(
        _NAME,
        "jobs",
        ["org_id", "definition_key", "failure_class", "attempt_id", "node_key"],
        sqlite_where=sa.text("failure_class IS NOT NULL"),
        postgresql_where=sa.text("failure_class IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index(_NAME, table_name="jobs")
