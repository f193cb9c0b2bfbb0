"""Jobs and run attempts keep why they failed: the reason their source states, raw, and
its class (``domain/failure_reasons.py``); jobs also the name of their failed step. Every
column is nullable: what was stored before knows none of it (the reasons GitLab jobs kept as
their ``failure_reason`` tag are not copied: a class cannot be computed in SQL from the one
table in Python). No figure changes, so no partition is marked.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("run_attempts", "jobs"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column(
                    "failure_reason", sa.Text(), nullable=True, comment="as the source states it"
                )
            )
            batch.add_column(sa.Column("failure_class", sa.String(16), nullable=True))
            if table == "jobs":
                batch.add_column(
                    sa.Column(
                        "failing_step",
                        sa.Text(),
                        nullable=True,
                        comment="the name of its failed step",
                    )
                )


def downgrade() -> None:
    for table in ("jobs", "run_attempts"):
        with op.batch_alter_table(table) as batch:
            if table == "jobs":
                batch.drop_column("failing_step")
            batch.drop_column("failure_class")
            batch.drop_column("failure_reason")
