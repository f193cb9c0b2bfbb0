"""SQL several Alembic revisions run.

SQL that several Alembic revisions run. Revisions are history: change nothing here that
an existing revision uses; add a new function instead."""

from __future__ import annotations

from alembic import op


def mark_partitions(condition: str = "TRUE") -> None:
    """Mark for the rollup refresher every partition (pipeline, UTC day) that holds run
    attempts matching ``condition`` (SQL on ``run_attempts``): what is already stored gets
    its rollups recomputed by the first server, or by ``cipulse rollups refresh``."""
    new_id = (
        "gen_random_uuid()"
        if op.get_bind().dialect.name == "postgresql"
        else "lower(hex(randomblob(16)))"
    )
    op.execute(
        f"INSERT INTO rollup_dirty (org_id, id, pipeline_id, day, marked_at_ms) "
        f"SELECT org_id, {new_id}, pipeline_id, day, 0 FROM ("
        f"SELECT DISTINCT org_id, pipeline_id, started_at_ms / 86400000 AS day "
        f"FROM run_attempts WHERE started_at_ms IS NOT NULL AND ({condition})"
        f") AS partitions"
    )
