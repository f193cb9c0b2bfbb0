"""Run and job rollups count failures per class (``failed_code``, ``failed_infrastructure``,
``failed_timeout``, ``failed_cancelled``, ``failed_unknown``: the attempts and jobs whose
``failure_class`` is that class). The partitions holding an attempt or a job with a class
are marked for the refresher, which recomputes them; the others count none.

Revision ID: 0019
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cipulse.storage.migration_helpers import mark_partitions

revision = "0019"
down_revision = "0017"
branch_labels = None
depends_on = None

CLASSES = ("code", "infrastructure", "timeout", "cancelled", "unknown")
#: An attempt that failed, or one of whose jobs did (SQL on ``run_attempts``).
_FAILED = (
    "failure_class IS NOT NULL OR EXISTS (SELECT 1 FROM jobs WHERE jobs.org_id = "
    "run_attempts.org_id AND jobs.attempt_id = run_attempts.id "
    "AND jobs.failure_class IS NOT NULL)"
)


def upgrade() -> None:
    for table in ("run_rollups", "job_rollups"):
        with op.batch_alter_table(table) as batch:
            for name in CLASSES:
                batch.add_column(
                    sa.Column(f"failed_{name}", sa.Integer(), nullable=False, server_default="0")
                )
    mark_partitions(_FAILED)


def downgrade() -> None:
    for table in ("run_rollups", "job_rollups"):
        with op.batch_alter_table(table) as batch:
            for name in CLASSES:
                batch.drop_column(f"failed_{name}")
