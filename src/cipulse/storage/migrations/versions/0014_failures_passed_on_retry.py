"""Job rollups count each job's failures passed on a retry: failing executions after which the
job ended success in a later attempt of the same run (they were estimated from flaky_count).
The partitions of the attempts that have a later attempt in their run (the only ones whose
count is not 0) are marked for the refresher, which recomputes them.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cipulse.storage.migration_helpers import mark_partitions

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

#: An attempt of a run retried after it (SQL on ``run_attempts``).
_RETRIED = (
    "EXISTS (SELECT 1 FROM run_attempts later WHERE later.org_id = run_attempts.org_id "
    "AND later.pipeline_id = run_attempts.pipeline_id "
    "AND later.run_key = run_attempts.run_key AND later.attempt > run_attempts.attempt)"
)


def upgrade() -> None:
    with op.batch_alter_table("job_rollups") as batch:
        batch.add_column(
            sa.Column(
                "failures_passed_on_retry",
                sa.Integer(),
                nullable=False,
                server_default="0",
                comment="Failing executions after which the job ended success in a later attempt",
            )
        )
    mark_partitions(_RETRIED)


def downgrade() -> None:
    with op.batch_alter_table("job_rollups") as batch:
        batch.drop_column("failures_passed_on_retry")
