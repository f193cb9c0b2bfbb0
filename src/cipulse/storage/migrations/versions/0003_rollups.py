"""Rollups: per pipeline and day (and week) figures, repeats, dirty marks, red periods

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cipulse.storage.migration_helpers import mark_partitions

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_rollups",
        sa.Column(
            "org_id",
            sa.String(length=36).with_variant(sa.UUID(as_uuid=False), "postgresql"),
            nullable=False,
        ),
        sa.Column("grain", sa.SmallInteger(), nullable=False),
        sa.Column("period", sa.Integer(), nullable=False),
        sa.Column(
            "pipeline_id",
            sa.String(length=36).with_variant(sa.UUID(as_uuid=False), "postgresql"),
            nullable=False,
        ),
        sa.Column("definition_key", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("n_success", sa.Integer(), server_default="0", nullable=False),
        sa.Column("n_failure", sa.Integer(), server_default="0", nullable=False),
        sa.Column("n_cancelled", sa.Integer(), server_default="0", nullable=False),
        sa.Column("n_running", sa.Integer(), server_default="0", nullable=False),
        sa.Column("n_queued", sa.Integer(), server_default="0", nullable=False),
        sa.Column("n_pending", sa.Integer(), server_default="0", nullable=False),
        sa.Column("n_skipped", sa.Integer(), server_default="0", nullable=False),
        sa.Column("n_timed_out", sa.Integer(), server_default="0", nullable=False),
        sa.Column("duration_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("duration_sum", sa.Float(), server_default="0", nullable=False),
        sa.Column(
            "duration_histogram",
            sa.Text(),
            server_default='{"b": []}',
            nullable=False,
            comment="Success durations: a histogram, JSON (domain/histogram.py)",
        ),
        sa.Column("total_duration_seconds", sa.Float(), server_default="0", nullable=False),
        sa.Column("exclusive_seconds", sa.Float(), server_default="0", nullable=False),
        sa.Column("flaky_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("retry_compute_seconds", sa.Float(), server_default="0", nullable=False),
        sa.Column("last_flaky_at_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint(
            "org_id",
            "grain",
            "period",
            "pipeline_id",
            "definition_key",
            name=op.f("pk_job_rollups"),
        ),
    )
    op.create_table(
        "red_periods",
        sa.Column(
            "org_id",
            sa.String(length=36).with_variant(sa.UUID(as_uuid=False), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "id",
            sa.String(length=36).with_variant(sa.UUID(as_uuid=False), "postgresql"),
            nullable=False,
            comment="From pipeline, branch and start",
        ),
        sa.Column(
            "pipeline_id",
            sa.String(length=36).with_variant(sa.UUID(as_uuid=False), "postgresql"),
            nullable=False,
        ),
        sa.Column("branch", sa.Text(), nullable=True),
        sa.Column("started_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("ended_at_ms", sa.BigInteger(), nullable=True),
        sa.Column("failing_attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "id", name=op.f("pk_red_periods")),
    )
    with op.batch_alter_table("red_periods", schema=None) as batch_op:
        batch_op.create_index(
            "ix_red_periods_org_id_ended_at_ms", ["org_id", "ended_at_ms"], unique=False
        )
        batch_op.create_index(
            "ix_red_periods_org_id_pipeline_id", ["org_id", "pipeline_id"], unique=False
        )

    op.create_table(
        "rollup_dirty",
        sa.Column(
            "org_id",
            sa.String(length=36).with_variant(sa.UUID(as_uuid=False), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "id",
            sa.String(length=36).with_variant(sa.UUID(as_uuid=False), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "pipeline_id",
            sa.String(length=36).with_variant(sa.UUID(as_uuid=False), "postgresql"),
            nullable=False,
        ),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("marked_at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "id", name=op.f("pk_rollup_dirty")),
    )
    with op.batch_alter_table("rollup_dirty", schema=None) as batch_op:
        batch_op.create_index("ix_rollup_dirty_org_id_day", ["org_id", "day"], unique=False)

    op.create_table(
        "rollup_repeats",
        sa.Column(
            "org_id",
            sa.String(length=36).with_variant(sa.UUID(as_uuid=False), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "pipeline_id",
            sa.String(length=36).with_variant(sa.UUID(as_uuid=False), "postgresql"),
            nullable=False,
        ),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("run_key", sa.String(length=500), nullable=False),
        sa.Column(
            "previous_started_at_ms",
            sa.BigInteger(),
            nullable=False,
            comment="Start of the latest earlier decided attempt of the run",
        ),
        sa.PrimaryKeyConstraint(
            "org_id", "day", "pipeline_id", "run_key", name=op.f("pk_rollup_repeats")
        ),
    )
    op.create_table(
        "run_rollups",
        sa.Column(
            "org_id",
            sa.String(length=36).with_variant(sa.UUID(as_uuid=False), "postgresql"),
            nullable=False,
        ),
        sa.Column("grain", sa.SmallInteger(), nullable=False),
        sa.Column("period", sa.Integer(), nullable=False),
        sa.Column(
            "pipeline_id",
            sa.String(length=36).with_variant(sa.UUID(as_uuid=False), "postgresql"),
            nullable=False,
        ),
        sa.Column("n_success", sa.Integer(), server_default="0", nullable=False),
        sa.Column("n_failure", sa.Integer(), server_default="0", nullable=False),
        sa.Column("n_cancelled", sa.Integer(), server_default="0", nullable=False),
        sa.Column("n_running", sa.Integer(), server_default="0", nullable=False),
        sa.Column("n_queued", sa.Integer(), server_default="0", nullable=False),
        sa.Column("n_pending", sa.Integer(), server_default="0", nullable=False),
        sa.Column("n_skipped", sa.Integer(), server_default="0", nullable=False),
        sa.Column("n_timed_out", sa.Integer(), server_default="0", nullable=False),
        sa.Column("first_success", sa.Integer(), server_default="0", nullable=False),
        sa.Column("first_failure", sa.Integer(), server_default="0", nullable=False),
        sa.Column("first_timed_out", sa.Integer(), server_default="0", nullable=False),
        sa.Column("compute_seconds", sa.Float(), server_default="0", nullable=False),
        sa.Column("duration_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("duration_sum", sa.Float(), server_default="0", nullable=False),
        sa.Column(
            "duration_histogram",
            sa.Text(),
            server_default='{"b": []}',
            nullable=False,
            comment="Success durations: a histogram, JSON (domain/histogram.py)",
        ),
        sa.Column(
            "decided_runs",
            sa.Integer(),
            server_default="0",
            nullable=False,
            comment="Per day: runs with an attempt that ended success, failure or timed_out",
        ),
        sa.Column("flaky_runs", sa.Integer(), server_default="0", nullable=False),
        sa.Column("retry_compute_seconds", sa.Float(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint(
            "org_id", "grain", "period", "pipeline_id", name=op.f("pk_run_rollups")
        ),
    )
    # Every partition (pipeline, day) holding attempts is marked: the first server (or
    # ``cipulse rollups refresh``) computes the rollups of what is already stored.
    mark_partitions()


def downgrade() -> None:
    op.drop_table("run_rollups")
    op.drop_table("rollup_repeats")
    with op.batch_alter_table("rollup_dirty", schema=None) as batch_op:
        batch_op.drop_index("ix_rollup_dirty_org_id_day")

    op.drop_table("rollup_dirty")
    with op.batch_alter_table("red_periods", schema=None) as batch_op:
        batch_op.drop_index("ix_red_periods_org_id_pipeline_id")
        batch_op.drop_index("ix_red_periods_org_id_ended_at_ms")

    op.drop_table("red_periods")
    op.drop_table("job_rollups")
