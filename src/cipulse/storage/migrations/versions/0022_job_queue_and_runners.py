"""Jobs keep how long they waited and where they ran as facts of their own: the queue
time, and the runner's label set, name, group and id (``domain/runners.py``); run attempts
their queue time where the source states one (GitLab's pipelines, Jenkins' ``init_ms``).
Every column is nullable: a source that is silent leaves them unknown. What was stored
before as the ``queue_seconds`` (or Trunk's ``init_ms``) metric and the ``runner_*`` tags
is copied over, label sets written the one way ``domain/runners.label_set`` writes them.
No figure changes, so no partition is marked.

Revision ID: 0022
Revises: 0021
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

_COLUMNS = ("queue_seconds", "runner_labels", "runner_name", "runner_group", "runner_id")


def upgrade() -> None:
    with op.batch_alter_table("run_attempts") as batch:
        batch.add_column(
            sa.Column("queue_seconds", sa.Float(), nullable=True, comment="from queued to started")
        )
    _copy_run_queue_times()
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(
            sa.Column("queue_seconds", sa.Float(), nullable=True, comment="from queued to started")
        )
        batch.add_column(
            sa.Column("runner_labels", sa.Text(), nullable=True, comment="its label set")
        )
        batch.add_column(sa.Column("runner_name", sa.Text(), nullable=True))
        batch.add_column(sa.Column("runner_group", sa.Text(), nullable=True))
        batch.add_column(sa.Column("runner_id", sa.String(200), nullable=True))
    _copy_webhook_facts()


def _copy_run_queue_times() -> None:
    """GitLab pipelines kept their queue time as the ``queue_seconds`` metric; Jenkins runs
    sent through Trunk's API as ``init_ms``."""
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        seconds = "(metrics ->> 'queue_seconds')::double precision"
        init_ms = "(metrics ->> 'init_ms')::double precision"
    else:
        seconds = "json_extract(metrics, '$.queue_seconds')"
        init_ms = "json_extract(metrics, '$.init_ms')"
    for source, value in (("gitlab", seconds), ("trunk", f"{init_ms} / 1000.0")):
        conn.execute(
            sa.text(
                f"UPDATE run_attempts SET queue_seconds = {value} "
                f"WHERE source_format = '{source}' AND metrics IS NOT NULL AND {value} >= 0"
            )
        )


def _copy_webhook_facts() -> None:
    """GitHub's and GitLab's webhook jobs kept these in ``metrics`` and ``tags``."""
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        queue = "(metrics ->> 'queue_seconds')::double precision"
        name, group = "(tags ->> 'runner_name')", "(tags ->> 'runner_group')"
        labels = _postgres_label_set("COALESCE(tags ->> 'runner_labels', tags ->> 'runner_tags')")
        held = "(metrics ? 'queue_seconds' OR tags ?| ARRAY['runner_name', 'runner_group', "
        held += "'runner_labels', 'runner_tags'])"
    else:
        raw = conn.connection.driver_connection
        assert raw is not None  # a live sqlite3 connection
        raw.create_function("cipulse_label_set", 1, _label_set, deterministic=True)
        queue = "json_extract(metrics, '$.queue_seconds')"
        name, group = "json_extract(tags, '$.runner_name')", "json_extract(tags, '$.runner_group')"
        labels = (
            "cipulse_label_set(COALESCE(json_extract(tags, '$.runner_labels'), "
            "json_extract(tags, '$.runner_tags')))"
        )
        held = f"({queue} IS NOT NULL OR {name} IS NOT NULL OR {group} IS NOT NULL "
        held += "OR json_extract(tags, '$.runner_labels') IS NOT NULL "
        held += "OR json_extract(tags, '$.runner_tags') IS NOT NULL)"
    conn.execute(
        sa.text(
            f"UPDATE jobs SET queue_seconds = CASE WHEN {queue} >= 0 THEN {queue} END, "
            f"runner_labels = {labels}, runner_name = NULLIF(TRIM({name}), ''), "
            f"runner_group = NULLIF(TRIM({group}), '') WHERE {held}"
        )
    )


def _postgres_label_set(text: str) -> str:
    """``_label_set`` in SQL: split on commas, trim, drop blanks and repeats, sort by code
    point (``COLLATE "C"``), join with commas; NULL when nothing is left."""
    return (
        'NULLIF(array_to_string(ARRAY(SELECT DISTINCT TRIM(label) COLLATE "C" '
        f"FROM unnest(string_to_array({text}, ',')) AS label "
        "WHERE TRIM(label) <> '' ORDER BY 1), ','), '')"
    )


def _label_set(text: object) -> str | None:
    """``domain/runners.label_set`` as of this migration, for SQLite."""
    if not isinstance(text, str):
        return None
    return ",".join(sorted({label.strip() for label in text.split(",")} - {""})) or None


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        for name in reversed(_COLUMNS):
            batch.drop_column(name)
    with op.batch_alter_table("run_attempts") as batch:
        batch.drop_column("queue_seconds")
