"""Rollups by branch scope: every rollup row also for the repository's default branch and
for the other branches (the rows stored so far are every branch's, scope 0); job rollups
name the highest bucket of their durations. Every partition is marked to be recomputed

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
    "rollup_repeats": ["org_id", "day", "pipeline_id", "run_key"],
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


def _scoped(key: list[str]) -> list[str]:
    """The key with ``branch_scope`` after its period (or day)."""
    at = key.index("day") + 1 if "day" in key else key.index("period") + 1
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
    op.add_column(
        "job_rollups",
        sa.Column(
            "duration_top_bucket",
            sa.Integer(),
            nullable=True,
            comment="The highest bucket of duration_histogram: no percentile exceeds its "
            "upper edge",
        ),
    )
    mark_partitions()


def downgrade() -> None:
    with op.batch_alter_table("job_rollups", recreate="auto") as batch:
        batch.drop_column("duration_top_bucket")
    for table, key in _KEYS.items():
        op.execute(f"DELETE FROM {table} WHERE branch_scope <> 0")
        with op.batch_alter_table(table, recreate="auto") as batch:
            batch.drop_constraint(f"pk_{table}", type_="primary")
            batch.create_primary_key(f"pk_{table}", key)
            batch.drop_column("branch_scope")
