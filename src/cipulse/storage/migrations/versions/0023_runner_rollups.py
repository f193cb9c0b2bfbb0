"""The runner rollup: per pipeline, day (and recent hour), branch scope and label set, the
job executions directly under their run: counts by status and failure class, duration and
queue histograms, queue by hour of day, busy seconds per hour of day, and the job seconds
and billable minutes (each job rounded up), overall and of waste. Every partition with jobs
is marked, so the refresher fills it (reads are exact meanwhile: they read marked
partitions raw); no stored figure changes.

Revision ID: 0023
Revises: 0022
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from cipulse.storage.migration_helpers import mark_partitions

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

_ID = sa.String(36).with_variant(postgresql.UUID(as_uuid=False), "postgresql")
_STATUSES = (
    "success",
    "failure",
    "cancelled",
    "running",
    "queued",
    "pending",
    "skipped",
    "timed_out",
)
_CLASSES = ("code", "infrastructure", "timeout", "cancelled", "unknown")

_WITH_JOBS = (
    "EXISTS (SELECT 1 FROM jobs WHERE jobs.org_id = run_attempts.org_id "
    "AND jobs.attempt_id = run_attempts.id)"
)


def upgrade() -> None:
    counts = [
        sa.Column(name, sa.Integer, nullable=False, server_default="0")
        for name in (*(f"n_{s}" for s in _STATUSES), *(f"failed_{c}" for c in _CLASSES))
    ]
    op.create_table(
        "runner_rollups",
        sa.Column("org_id", _ID, nullable=False),
        sa.Column("grain", sa.SmallInteger, nullable=False),
        sa.Column("period", sa.Integer, nullable=False),
        sa.Column("branch_scope", sa.SmallInteger, nullable=False),
        sa.Column("pipeline_id", _ID, nullable=False),
        sa.Column("label_set", sa.Text, nullable=False, comment="'' when the source named none"),
        *counts,
        sa.Column("duration_count", sa.Integer, nullable=False),
        sa.Column("duration_sum", sa.Float, nullable=False),
        sa.Column("duration_histogram", sa.Text, nullable=False, comment="of successes"),
        sa.Column("queue_count", sa.Integer, nullable=False),
        sa.Column("queue_sum", sa.Float, nullable=False),
        sa.Column("queue_histogram", sa.Text, nullable=False),
        sa.Column("queue_by_hour", sa.Text, nullable=False, comment="per UTC hour queued"),
        sa.Column("busy_seconds", sa.Text, nullable=False, comment="24 sums, per UTC hour"),
        sa.Column("job_seconds", sa.Float, nullable=False),
        sa.Column("billable_minutes", sa.Integer, nullable=False, comment="each job rounded up"),
        sa.Column("waste_job_seconds", sa.Float, nullable=False),
        sa.Column("waste_billable_minutes", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint(
            "org_id",
            "grain",
            "period",
            "branch_scope",
            "pipeline_id",
            "label_set",
            name="pk_runner_rollups",
        ),
    )
    mark_partitions(_WITH_JOBS)


def downgrade() -> None:
    op.drop_table("runner_rollups")
