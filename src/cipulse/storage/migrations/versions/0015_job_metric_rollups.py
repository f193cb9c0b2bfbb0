"""Job rollups keep the executions' metrics (GitHub's and GitLab's queue_seconds, custom
metrics) per key: count, sum and histogram of the executions that carry it, so a new job
figure over a metric needs no new column. The partitions of the attempts with a job carrying
metrics are marked for the refresher, which recomputes them (``cipulse rollups rebuild``
recomputes every partition at once).

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cipulse.storage.migration_helpers import mark_partitions

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

#: The comment of ``job_rollups.metrics`` as this revision made it.
_COMMENT = (
    "Per key of the executions' metrics (queue_seconds, custom metrics), of the executions "
    'carrying it: JSON {key: {"n": count, "s": sum, "b": histogram buckets, "v": values}} '
    "(domain/histogram.py)"
)

#: An attempt with a job that carries metrics (SQL on ``run_attempts``).
_WITH_JOB_METRICS = (
    "EXISTS (SELECT 1 FROM jobs WHERE jobs.org_id = run_attempts.org_id "
    "AND jobs.attempt_id = run_attempts.id AND jobs.metrics IS NOT NULL)"
)


def upgrade() -> None:
    with op.batch_alter_table("job_rollups") as batch:
        batch.add_column(
            sa.Column("metrics", sa.Text(), nullable=False, server_default="{}", comment=_COMMENT)
        )
    mark_partitions(_WITH_JOB_METRICS)


def downgrade() -> None:
    with op.batch_alter_table("job_rollups") as batch:
        batch.drop_column("metrics")
