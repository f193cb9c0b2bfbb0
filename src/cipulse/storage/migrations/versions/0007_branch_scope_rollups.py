"""Rollups by branch scope and, for recent days, by hour: every rollup row also for the
repository's default branch and for the other branches (the rows stored so far are every
branch's, scope 0); rollups name the highest bucket of their durations; repeats are kept
per day or hour; red periods are indexed by branch too. Every partition is marked to be recomputed

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cipulse.storage.migration_helpers import mark_partitions

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

#: Each table's primary key without and with the scope.
_KEYS = {
    "run_rollups": ["org_id", "grain", "period", "pipeline_id"],
    "job_rollups": ["org_id", "grain", "period", "pipeline_id", "definition_key"],
    "metric_rollups": [
        "org_id",
        "grain",
        "period",
        "metric_key",
        "tag_key",
        "tag_value",
        "pipeline_id",
    ],
}
_COMMENT = "0: every branch; 1: the repository's default branch; 2: the other branches"


_ID = sa.String(length=36).with_variant(sa.UUID(as_uuid=False), "postgresql")
_PREVIOUS_COMMENT = "Start of the latest earlier decided attempt of the run"


def _scoped(key: list[str]) -> list[str]:
    """The key with ``branch_scope`` after its period."""
    at = key.index("period") + 1
    return [*key[:at], "branch_scope", *key[at:]]


def upgrade() -> None:
    for table, key in _KEYS.items():
        with op.batch_alter_table(table, recreate="auto") as batch:
            batch.add_column(
                sa.Column(
                    "branch_scope",
                    sa.SmallInteger(),
                    nullable=False,
                    server_default="0",
                    comment=_COMMENT,
                )
            )
            batch.drop_constraint(f"pk_{table}", type_="primary")
            batch.create_primary_key(f"pk_{table}", _scoped(key))
    # Repeats are recomputed with the rest: the table is made anew, per grain and period.
    op.drop_table("rollup_repeats")
    op.create_table(
        "rollup_repeats",
        sa.Column("org_id", _ID, nullable=False),
        sa.Column("grain", sa.SmallInteger(), nullable=False, comment="1: a day; 0: an hour"),
        sa.Column("period", sa.Integer(), nullable=False),
        sa.Column("pipeline_id", _ID, nullable=False),
        sa.Column("run_key", sa.String(length=500), nullable=False),
        sa.Column(
            "previous_started_at_ms", sa.BigInteger(), nullable=False, comment=_PREVIOUS_COMMENT
        ),
        sa.Column(
            "branch_scope", sa.SmallInteger(), nullable=False, server_default="0", comment=_COMMENT
        ),
        sa.PrimaryKeyConstraint(
            "org_id",
            "grain",
            "period",
            "branch_scope",
            "pipeline_id",
            "run_key",
            name=op.f("pk_rollup_repeats"),
        ),
    )
    for table in ("run_rollups", "job_rollups"):
        op.add_column(
            table,
            sa.Column(
                "duration_top_bucket",
                sa.Integer(),
                nullable=True,
                comment="The highest bucket of duration_histogram: no percentile exceeds its "
                "upper edge",
            ),
        )
    op.create_index(
        "ix_red_periods_org_id_branch_ended_at_ms_started_at_ms",
        "red_periods",
        ["org_id", "branch", "ended_at_ms", "started_at_ms"],
    )
    mark_partitions()


def downgrade() -> None:
    op.drop_index(
        "ix_red_periods_org_id_branch_ended_at_ms_started_at_ms", table_name="red_periods"
    )
    op.drop_table("rollup_repeats")
    op.create_table(
        "rollup_repeats",
        sa.Column("org_id", _ID, nullable=False),
        sa.Column("pipeline_id", _ID, nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("run_key", sa.String(length=500), nullable=False),
        sa.Column(
            "previous_started_at_ms", sa.BigInteger(), nullable=False, comment=_PREVIOUS_COMMENT
        ),
        sa.PrimaryKeyConstraint(
            "org_id", "day", "pipeline_id", "run_key", name=op.f("pk_rollup_repeats")
        ),
    )
    for table in ("run_rollups", "job_rollups"):
        op.execute(f"DELETE FROM {table} WHERE grain = 0")
    for table in ("run_rollups", "job_rollups"):
        with op.batch_alter_table(table, recreate="auto") as batch:
            batch.drop_column("duration_top_bucket")
    for table, key in _KEYS.items():
        op.execute(f"DELETE FROM {table} WHERE branch_scope <> 0")
        with op.batch_alter_table(table, recreate="auto") as batch:
            batch.drop_constraint(f"pk_{table}", type_="primary")
            batch.create_primary_key(f"pk_{table}", key)
            batch.drop_column("branch_scope")
    mark_partitions()
