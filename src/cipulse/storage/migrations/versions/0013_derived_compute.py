"""Trunk run attempts get a compute: the sum of their job-level nodes' durations (the rule of
``cipulse.domain.compute``, which ingest now applies to every wire format that carries no
compute); job rollups keep each job's level (job, stage, step). The days of the attempts
whose sources nest nodes (Trunk, webhooks) are marked for the refresher, which recomputes
both.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import time
import uuid

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

DAY_MS = 86_400_000

#: The job-level nodes of an attempt: those whose parent is not among its nodes.
_DERIVED = """
UPDATE run_attempts SET compute_seconds = (
    SELECT SUM(j.duration_seconds) FROM jobs j
    WHERE j.org_id = run_attempts.org_id AND j.attempt_id = run_attempts.id
      AND NOT EXISTS (
        SELECT 1 FROM jobs p
        WHERE p.org_id = j.org_id AND p.attempt_id = j.attempt_id
          AND p.node_key = j.parent_node_key
      )
)
WHERE source_format = 'trunk'
"""


def upgrade() -> None:
    with op.batch_alter_table("job_rollups") as batch:
        batch.add_column(
            sa.Column(
                "level",
                sa.SmallInteger(),
                nullable=True,
                comment="0: job (directly under the run), 1: nested stage, 2: nested step; "
                "null: stored before levels were kept, read as job (domain/compute.py)",
            )
        )
    conn = op.get_bind()
    conn.execute(sa.text(_DERIVED))
    days = conn.execute(
        sa.text(
            "SELECT DISTINCT org_id, pipeline_id, started_at_ms / :day FROM run_attempts "
            "WHERE source_format IN ('trunk', 'github', 'gitlab') "
            "AND started_at_ms IS NOT NULL"
        ),
        {"day": DAY_MS},
    ).all()
    now = int(time.time() * 1000)
    marks = sa.table(
        "rollup_dirty",
        sa.column("org_id"),
        sa.column("id"),
        sa.column("pipeline_id"),
        sa.column("day"),
        sa.column("marked_at_ms"),
        sa.column("kind"),
    )
    rows = [
        {
            "org_id": str(org_id),
            "id": str(uuid.uuid4()),
            "pipeline_id": str(pipeline_id),
            "day": int(day),
            "marked_at_ms": now,
            "kind": 0,
        }
        for org_id, pipeline_id, day in days
    ]
    for start in range(0, len(rows), 1000):
        conn.execute(sa.insert(marks), rows[start : start + 1000])


def downgrade() -> None:
    """The compute derived is kept: the previous schema reads it as any other."""
    with op.batch_alter_table("job_rollups") as batch:
        batch.drop_column("level")
