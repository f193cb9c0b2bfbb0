"""Run attempts keep the change they ran for: the commit (SHA, the first line of its
message, its author's name), the pull or merge request (number, title, URL, source and
target branch) and the kind of event (``domain/changes.py``). Every column is nullable:
attempts stored before know none of it, except the commit SHA that webhook attempts kept
as their ``commit_sha`` tag, which is copied over. Two partial indexes serve the runs of a
commit and of a pull request. No figure changes, so no partition is marked.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_TEXT_COLUMNS = (
    "commit_message",
    "commit_author",
    "pull_request_title",
    "pull_request_url",
    "pull_request_source_branch",
    "pull_request_target_branch",
)
_INDEXES = (
    ("ix_run_attempts_org_id_commit_sha", "commit_sha"),
    ("ix_run_attempts_org_id_pull_request_number", "pull_request_number"),
)


def upgrade() -> None:
    with op.batch_alter_table("run_attempts") as batch:
        batch.add_column(
            sa.Column("commit_sha", sa.String(200), nullable=True, comment="lower case")
        )
        for name in _TEXT_COLUMNS:
            batch.add_column(sa.Column(name, sa.Text(), nullable=True, comment=_comment(name)))
        batch.add_column(sa.Column("pull_request_number", sa.BigInteger(), nullable=True))
        batch.add_column(
            sa.Column(
                "event_kind",
                sa.String(16),
                nullable=True,
                comment="pull_request, merge_queue, tag, schedule, push or other",
            )
        )
    _copy_commit_tags()
    for name, column in _INDEXES:
        op.create_index(
            name,
            "run_attempts",
            ["org_id", column],
            sqlite_where=sa.text(f"{column} IS NOT NULL"),
            postgresql_where=sa.text(f"{column} IS NOT NULL"),
        )


def _comment(name: str) -> str | None:
    return {"commit_message": "its first line", "commit_author": "a name, never an e-mail"}.get(
        name
    )


def _copy_commit_tags() -> None:
    """The SHA webhook attempts kept as a tag (GitHub's ``head_sha``, GitLab's ``sha``), if
    it has the length of one (the column holds at most 200 characters)."""
    conn = op.get_bind()
    member = (
        "(tags ->> 'commit_sha')"
        if conn.dialect.name == "postgresql"
        else "(SELECT value FROM json_each(tags) WHERE key = 'commit_sha')"
    )
    conn.execute(
        sa.text(
            f"UPDATE run_attempts SET commit_sha = LOWER({member}) "
            "WHERE source_format IN ('github', 'gitlab') AND tags IS NOT NULL "
            f"AND LENGTH({member}) BETWEEN 4 AND 64"
        )
    )


def downgrade() -> None:
    for name, _ in _INDEXES:
        op.drop_index(name, table_name="run_attempts")
    with op.batch_alter_table("run_attempts") as batch:
        for name in ("commit_sha", *_TEXT_COLUMNS, "pull_request_number", "event_kind"):
            batch.drop_column(name)
