"""Marks of four kinds (a pipeline's day, the organisation's day, red periods from an
instant, a new run) and the partitions the refresher failed to refresh, set aside until a
retry time

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

Id = sa.String(36).with_variant(postgresql.UUID(as_uuid=False), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("rollup_dirty") as batch:
        batch.add_column(
            sa.Column(
                "kind",
                sa.SmallInteger(),
                nullable=False,
                server_default=sa.text("0"),
                comment="0: a pipeline's figures of the day (ingest); 1: the organisation's "
                "rows of the day; 2: the pipeline's red periods from the day on; 3: a new "
                "run, its attempt's figures not yet added (storage/rollup_marks.py)",
            )
        )
        batch.add_column(
            sa.Column(
                "from_ms",
                sa.BigInteger(),
                nullable=True,
                comment="Red periods: stale from this instant on",
            )
        )
    op.create_table(
        "rollup_failures",
        sa.Column("org_id", Id, nullable=False),
        sa.Column("kind", sa.SmallInteger(), nullable=False),
        sa.Column("pipeline_id", Id, nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("first_failed_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("last_failed_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("retry_at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "kind", "pipeline_id", "day", name="pk_rollup_failures"),
    )


def downgrade() -> None:
    op.drop_table("rollup_failures")
    with op.batch_alter_table("rollup_dirty") as batch:
        batch.drop_column("from_ms")
        batch.drop_column("kind")
