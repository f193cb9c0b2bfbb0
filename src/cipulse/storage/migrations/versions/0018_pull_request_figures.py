"""Each pull request's figures are kept in ``pull_request_figures`` (one row per
organisation, repository and number), recomputed from its stored attempts whenever ingest,
a purge or a deletion writes or deletes any of them (``storage/pull_request_figures.py``), so
that listing a window's pull requests reads one row per pull request instead of every
attempt. The rows of the attempts stored before are computed here, organisation by
organisation, with the same code. No rollup figure changes, so no partition is marked.

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

_ID = sa.String(36).with_variant(postgresql.UUID(as_uuid=False), "postgresql")
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "pull_request_figures",
        sa.Column("org_id", _ID, nullable=False),
        sa.Column("repository_id", _ID, nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("source_branch", sa.Text(), nullable=True),
        sa.Column("target_branch", sa.Text(), nullable=True),
        sa.Column("authors", _JSON, nullable=False, comment="commit authors, first seen first"),
        sa.Column("commits", sa.Integer(), nullable=False),
        sa.Column("head_commit_sha", sa.String(200), nullable=True),
        sa.Column("first_run_at_ms", sa.BigInteger(), nullable=True),
        sa.Column("last_run_at_ms", sa.BigInteger(), nullable=True),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("reruns", sa.Integer(), nullable=False),
        sa.Column("ci_seconds", sa.Float(), nullable=False),
        sa.Column("compute_seconds", sa.Float(), nullable=True),
        sa.Column("time_to_green_head_seconds", sa.Float(), nullable=True),
        sa.Column("time_to_green_seconds", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint(
            "org_id", "repository_id", "number", name="pk_pull_request_figures"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name="fk_pull_request_figures_org_id_organisations",
        ),
    )
    op.create_index(
        "ix_pull_request_figures_last_run",
        "pull_request_figures",
        ["org_id", "last_run_at_ms", "repository_id", "number"],
    )
    _backfill()


def _backfill() -> None:
    from cipulse.storage.pull_request_figures import recompute_organisation

    conn = op.get_bind()
    for (org_id,) in conn.execute(sa.text("SELECT id FROM organisations ORDER BY id")):
        recompute_organisation(conn, str(org_id))


def downgrade() -> None:
    op.drop_index(
        "ix_pull_request_figures_last_run",
        "pull_request_figures",
    )
    op.drop_table("pull_request_figures")
