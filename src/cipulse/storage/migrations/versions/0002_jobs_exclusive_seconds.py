"""jobs.exclusive_seconds: the seconds a job ran alone in its attempt, stored with snapshots

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ALTER TABLE on both databases (no batch copy, which would drop SQLite's
    # WITHOUT ROWID). Jobs stored before this revision read as unknown and are computed
    # from their timestamps when read.
    op.add_column(
        "jobs",
        sa.Column(
            "exclusive_seconds",
            sa.Float(),
            nullable=True,
            comment="Seconds this job ran alone in its attempt, computed when a snapshot is stored",
        ),
    )


def downgrade() -> None:
    op.drop_column("jobs", "exclusive_seconds")
