"""The rollup tables: stored figures, repeats, marks, red periods, metrics.

Part of the schema (``schema.py`` names every table); see its conventions."""

from __future__ import annotations

import sqlalchemy as sa

from cipulse.domain.tallies import FAILURE_CLASSES
from cipulse.storage.schema_types import Id, Millis, metadata
from cipulse.storage.schema_types import org_id_column as _org_id

# --- Rollups -------------------------------------------------------------------------------
# Figures per pipeline and UTC day (``grain`` 1, ``period`` = days since the epoch) and per
# week of seven such days (``grain`` 7, ``period`` = its first day, a Monday), recomputed
# from the raw rows by the rollup refresher (``analytics/refresh.py``) for each partition
# (pipeline, day) that ingest marked in ``rollup_dirty``. Reads take whole weeks and days
# from here, and partial days and still-dirty partitions from the raw rows. Each figure is
# stored three times over, by ``branch_scope``: for every branch, for the repository's default
# branch, and for the others (the dashboard's branch filter), so each is one read. Recent days
# are also stored by the hour (``grain`` 0, ``period`` = hours since the epoch), for windows
# such as the last 24 hours whose edges fall inside days.

STATUS_NAMES = (
    "success",
    "failure",
    "cancelled",
    "running",
    "queued",
    "pending",
    "skipped",
    "timed_out",
)


def _status_counts(prefix: str, statuses: tuple[str, ...] = STATUS_NAMES) -> list[sa.Column[int]]:
    return [
        sa.Column(f"{prefix}{status}", sa.Integer, nullable=False, server_default="0")
        for status in statuses
    ]


def _durations() -> list[sa.Column[object]]:
    return [
        sa.Column("duration_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("duration_sum", sa.Float, nullable=False, server_default="0"),
        sa.Column(
            "duration_histogram",
            sa.Text,
            nullable=False,
            server_default='{"b": []}',
            comment="Success durations: a histogram, JSON (domain/histogram.py)",
        ),
    ]


def _branch_scope() -> sa.Column[int]:
    return sa.Column(
        "branch_scope",
        sa.SmallInteger,
        nullable=False,
        server_default="0",
        comment="0: every branch; 1: the repository's default branch; 2: the other branches",
    )


def _top_bucket() -> sa.Column[int]:
    return sa.Column(
        "duration_top_bucket",
        sa.Integer,
        nullable=True,
        comment="The highest bucket of duration_histogram: no percentile exceeds its upper edge",
    )


#: ``job_rollups.metrics``: the executions' metrics aggregated per key, whatever the key.
JOB_METRICS_COMMENT = (
    "Per key of the executions' metrics (queue_seconds, custom metrics), of the executions "
    'carrying it: JSON {key: {"n": count, "s": sum, "b": histogram buckets, "v": values}} '
    "(domain/histogram.py)"
)

run_rollups = sa.Table(
    "run_rollups",
    metadata,
    _org_id(),
    sa.Column("grain", sa.SmallInteger, nullable=False),
    sa.Column("period", sa.Integer, nullable=False),
    sa.Column("pipeline_id", Id, nullable=False),
    *_status_counts("n_"),
    *_status_counts("first_", ("success", "failure", "timed_out")),
    sa.Column("compute_seconds", sa.Float, nullable=False, server_default="0"),
    *_durations(),
    sa.Column(
        "decided_runs",
        sa.Integer,
        nullable=False,
        server_default="0",
        comment="Per day: runs with an attempt that ended success, failure or timed_out",
    ),
    sa.Column("flaky_runs", sa.Integer, nullable=False, server_default="0"),
    sa.Column("retry_compute_seconds", sa.Float, nullable=False, server_default="0"),
    _branch_scope(),
    _top_bucket(),
    *_status_counts("failed_", FAILURE_CLASSES),
    sa.PrimaryKeyConstraint("org_id", "grain", "period", "branch_scope", "pipeline_id"),
)

job_rollups = sa.Table(
    "job_rollups",
    metadata,
    _org_id(),
    sa.Column("grain", sa.SmallInteger, nullable=False),
    sa.Column("period", sa.Integer, nullable=False),
    sa.Column("pipeline_id", Id, nullable=False),
    sa.Column("definition_key", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    *_status_counts("n_"),
    *_durations(),
    sa.Column("total_duration_seconds", sa.Float, nullable=False, server_default="0"),
    sa.Column("exclusive_seconds", sa.Float, nullable=False, server_default="0"),
    sa.Column("flaky_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("retry_compute_seconds", sa.Float, nullable=False, server_default="0"),
    sa.Column("last_flaky_at_ms", Millis, nullable=True),
    _branch_scope(),
    _top_bucket(),
    sa.Column(
        "level",
        sa.SmallInteger,
        nullable=True,
        comment="0: job (directly under the run), 1: nested stage, 2: nested step; "
        "null: stored before levels were kept, read as job (domain/compute.py)",
    ),
    sa.Column(
        "failures_passed_on_retry",
        sa.Integer,
        nullable=False,
        server_default="0",
        comment="Failing executions after which the job ended success in a later attempt",
    ),
    sa.Column(
        "metrics",
        sa.Text,
        nullable=False,
        server_default="{}",
        comment=JOB_METRICS_COMMENT,
    ),
    *_status_counts("failed_", FAILURE_CLASSES),
    sa.PrimaryKeyConstraint(
        "org_id", "grain", "period", "branch_scope", "pipeline_id", "definition_key"
    ),
)

rollup_repeats = sa.Table(
    "rollup_repeats",
    metadata,
    _org_id(),
    sa.Column("grain", sa.SmallInteger, nullable=False, comment="1: a day; 0: an hour"),
    sa.Column("period", sa.Integer, nullable=False),
    sa.Column("pipeline_id", Id, nullable=False),
    sa.Column("run_key", sa.String(500), nullable=False),
    sa.Column(
        "previous_started_at_ms",
        Millis,
        nullable=False,
        comment="Start of the latest earlier decided attempt of the run",
    ),
    _branch_scope(),
    sa.PrimaryKeyConstraint("org_id", "grain", "period", "branch_scope", "pipeline_id", "run_key"),
)

rollup_dirty = sa.Table(
    "rollup_dirty",
    metadata,
    _org_id(),
    sa.Column("id", Id, nullable=False),
    sa.Column("pipeline_id", Id, nullable=False),
    sa.Column("day", sa.Integer, nullable=False),
    sa.Column("marked_at_ms", Millis, nullable=False),
    sa.Column(
        "kind",
        sa.SmallInteger,
        nullable=False,
        server_default=sa.text("0"),
        comment="0: a pipeline's figures of the day (ingest); 1: the organisation's rows of "
        "the day; 2: the pipeline's red periods from the day on; 3: a new run, its attempt's "
        "figures not yet added (storage/rollup_marks.py)",
    ),
    sa.Column("from_ms", Millis, nullable=True, comment="Red periods: stale from this instant on"),
    sa.PrimaryKeyConstraint("org_id", "id"),
    sa.Index("ix_rollup_dirty_org_id_day", "org_id", "day"),
)

#: Partitions the refresher failed to refresh, set aside until ``retry_at_ms``.
rollup_failures = sa.Table(
    "rollup_failures",
    metadata,
    _org_id(),
    sa.Column("kind", sa.SmallInteger, nullable=False),
    sa.Column("pipeline_id", Id, nullable=False),
    sa.Column("day", sa.Integer, nullable=False),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("error", sa.Text, nullable=False),
    sa.Column("first_failed_at_ms", Millis, nullable=False),
    sa.Column("last_failed_at_ms", Millis, nullable=False),
    sa.Column("retry_at_ms", Millis, nullable=False),
    sa.PrimaryKeyConstraint("org_id", "kind", "pipeline_id", "day"),
)

red_periods = sa.Table(
    "red_periods",
    metadata,
    _org_id(),
    sa.Column("id", Id, nullable=False, comment="From pipeline, branch and start"),
    sa.Column("pipeline_id", Id, nullable=False),
    sa.Column("branch", sa.Text, nullable=True),
    sa.Column("started_at_ms", Millis, nullable=False),
    sa.Column("ended_at_ms", Millis, nullable=True),
    sa.Column("failing_attempts", sa.Integer, nullable=False),
    sa.PrimaryKeyConstraint("org_id", "id"),
    sa.Index(
        "ix_red_periods_org_id_pipeline_id_ended_at_ms_started_at_ms",
        "org_id",
        "pipeline_id",
        "ended_at_ms",
        "started_at_ms",
    ),
    # Covering: the window's figures (count and lengths) come from the index alone.
    sa.Index(
        "ix_red_periods_org_id_ended_at_ms_started_at_ms",
        "org_id",
        "ended_at_ms",
        "started_at_ms",
    ),
    # The same for the default branches (branch IN (main, master), or the ones named).
    sa.Index(
        "ix_red_periods_org_id_branch_ended_at_ms_started_at_ms",
        "org_id",
        "branch",
        "ended_at_ms",
        "started_at_ms",
    ),
)

metric_rollups = sa.Table(
    "metric_rollups",
    metadata,
    _org_id(),
    sa.Column("grain", sa.SmallInteger, nullable=False),
    sa.Column("period", sa.Integer, nullable=False),
    sa.Column("pipeline_id", Id, nullable=False),
    sa.Column("metric_key", sa.Text, nullable=False),
    sa.Column("tag_key", sa.Text, nullable=False, comment="'' for every value of the metric"),
    sa.Column("tag_value", sa.Text, nullable=False),
    sa.Column("value_count", sa.Integer, nullable=False),
    sa.Column("value_sum", sa.Float, nullable=False),
    sa.Column("histogram", sa.Text, nullable=False, comment="JSON (domain/histogram.py)"),
    _branch_scope(),
    sa.PrimaryKeyConstraint(
        "org_id",
        "grain",
        "period",
        "branch_scope",
        "metric_key",
        "tag_key",
        "tag_value",
        "pipeline_id",
    ),
)
