"""The pull requests with a run in a window are found from one partial index: the attempts
that name a pull request, by organisation and start, carrying the repository and the number,
so listing a window's pull requests reads no table row. No figure changes, so no partition is
marked.

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

INDEX = "ix_run_attempts_org_id_started_at_ms_pull_request"


def upgrade() -> None:
    op.create_index(
        INDEX,
        "run_attempts",
        ["org_id", "started_at_ms", "repository_id", "pull_request_number"],
        sqlite_where=sa.text("pull_request_number IS NOT NULL"),
        postgresql_where=sa.text("pull_request_number IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index(INDEX, table_name="run_attempts")
