"""Raw facts the figures are computed from, scoped by organisation.

Reads for the figures: run attempts in a window under filters, the other attempts of the
same runs, their jobs, red periods' outcomes and custom metrics' events. Every query is
scoped to one organisation. The read API's lists are ``list_store``'s; the names below
re-exported from it and ``attempt_filters`` keep older callers working."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any, NamedTuple

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cipulse.domain.tallies import AttemptFacts, Outcome
from cipulse.domain.window import DAY_MS, Filters, Window
from cipulse.storage.attempt_filters import a, filtered, in_window, jobs_in_window, started_in
from cipulse.storage.dialect import placeholder
from cipulse.storage.schema import jobs

_FACT_COLUMNS = [
    a.c.id,
    a.c.repository_id,
    a.c.pipeline_id,
    a.c.run_key,
    a.c.attempt,
    a.c.status,
    a.c.branch,
    a.c.started_at_ms,
    a.c.completed_at_ms,
    a.c.duration_seconds,
    a.c.compute_seconds,
    a.c.root_node_key,
    a.c.failure_class,
]


def _facts(rows: Iterable[Any]) -> list[AttemptFacts]:
    return [AttemptFacts(*row) for row in rows]


def attempts_in_window(
    conn: Connection, org_id: str, window: Window, pipeline_ids: Sequence[str] | None = None
) -> list[AttemptFacts]:
    """The attempts in the window that pass its filters (and, if given, of those pipelines)."""
    query = filtered(sa.select(*_FACT_COLUMNS), org_id, window.filters).where(*started_in(window))
    if pipeline_ids is not None:
        query = query.where(a.c.pipeline_id.in_(sorted(pipeline_ids)))
    return _facts(conn.execute(query))


def attempts_by_id(conn: Connection, org_id: str, attempt_ids: Sequence[str]) -> list[AttemptFacts]:
    """The stored attempts among these ids (an id of nothing stored is left out)."""
    ids = sorted(set(attempt_ids))
    found: list[AttemptFacts] = []
    for start in range(0, len(ids), 500):
        query = sa.select(*_FACT_COLUMNS).where(
            a.c.org_id == org_id, a.c.id.in_(ids[start : start + 500])
        )
        found += [
            AttemptFacts(str(row[0]), str(row[1]), str(row[2]), *row[3:])
            for row in conn.execute(query)
        ]
    return found


def runs_of_partitions(
    conn: Connection,
    org_id: str,
    span: Window,
    pipeline_ids: Sequence[str],
    partitions: set[tuple[str, int]],
) -> list[tuple[str, str]]:
    """The runs (pipeline id, run key) with an attempt started in one of the partitions
    (pipeline id, day) of those pipelines within the span (its filters aside), in order."""
    day = a.c.started_at_ms / DAY_MS
    query = (
        sa.select(a.c.pipeline_id, a.c.run_key, day)
        .where(
            a.c.org_id == org_id,
            a.c.pipeline_id.in_(sorted(pipeline_ids)),
            a.c.started_at_ms >= span.since_ms,
            a.c.started_at_ms < span.until_ms,
        )
        .distinct()
    )
    return sorted(
        {
            (str(pipeline_id), run_key)
            for pipeline_id, run_key, started_day in conn.execute(query)
            if (str(pipeline_id), int(started_day)) in partitions
        }
    )


def run_span(
    conn: Connection, org_id: str, pipeline_id: str | None = None
) -> tuple[int, int] | None:
    """When the organisation's (or one pipeline's) first and latest run attempts started, in
    milliseconds; None without any. Two index lookups, whatever the number of runs."""

    def edge(descending: bool) -> int | None:
        column = a.c.started_at_ms
        query = sa.select(column).where(a.c.org_id == org_id, column.is_not(None))
        if pipeline_id is not None:
            query = query.where(a.c.pipeline_id == pipeline_id)
        query = query.order_by(column.desc() if descending else column.asc()).limit(1)
        found: int | None = conn.execute(query).scalar()
        return found

    first, last = edge(descending=False), edge(descending=True)
    return None if first is None or last is None else (first, last)


_FACT_SQL = ", ".join(column.name for column in _FACT_COLUMNS)


def rows_of_runs(
    conn: Connection, columns: str, org_id: str, runs: Iterable[tuple[str, str]]
) -> list[tuple[Any, ...]]:
    """``columns`` (SQL) of every stored attempt of the given runs (pipeline id, run key),
    whatever its time. One statement per pipeline, ``run_key IN (…)``, on the driver: it
    runs for every ingest batch and every rollup partition, and SQLAlchemy's per-statement
    overhead was most of its cost (a row-value IN would not use the index on SQLite)."""
    by_pipeline: dict[str, list[str]] = {}
    for pipeline_id, run_key in runs:
        by_pipeline.setdefault(pipeline_id, []).append(run_key)
    mark = placeholder(conn)
    found: list[tuple[Any, ...]] = []
    for pipeline_id, run_keys in sorted(by_pipeline.items()):
        run_keys = sorted(set(run_keys))
        for start in range(0, len(run_keys), 500):
            chunk = run_keys[start : start + 500]
            sql = (
                f"SELECT {columns} FROM run_attempts WHERE org_id = {mark} "
                f"AND pipeline_id = {mark} AND run_key IN ({', '.join([mark] * len(chunk))})"
            )
            found += conn.exec_driver_sql(sql, (org_id, pipeline_id, *chunk)).fetchall()
    return found


def attempts_of_runs(
    conn: Connection, org_id: str, runs: Iterable[tuple[str, str]]
) -> list[AttemptFacts]:
    """Every stored attempt of the given runs, whatever its time (retries cross windows)."""
    # The driver returns PostgreSQL's UUIDs as such: ids are strings everywhere else.
    return [
        AttemptFacts(str(row[0]), str(row[1]), str(row[2]), *row[3:])
        for row in rows_of_runs(conn, _FACT_SQL, org_id, runs)
    ]


JOB_FACT_COLUMNS = (
    "attempt_id",
    "node_key",
    "parent_node_key",
    "definition_key",
    "name",
    "status",
    "started_at_ms",
    "completed_at_ms",
    "duration_seconds",
    "exclusive_seconds",
    "kind",
    "metrics",
    "failure_class",
    "queue_seconds",
    "runner_labels",
)


def job_facts_of(conn: Connection, org_id: str, attempt_ids: Sequence[str]) -> list[dict[str, Any]]:
    """What job figures need of the jobs of the given attempts (``JOB_FACT_COLUMNS``), read
    on the driver: the rollup refresher reads every job once."""
    mark = placeholder(conn)
    ids = sorted(set(attempt_ids))
    found: list[dict[str, Any]] = []
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        sql = (
            f"SELECT {', '.join(JOB_FACT_COLUMNS)} FROM jobs WHERE org_id = {mark} "
            f"AND attempt_id IN ({', '.join([mark] * len(chunk))})"
        )
        for row in conn.exec_driver_sql(sql, (org_id, *chunk)):
            job = dict(zip(JOB_FACT_COLUMNS, row, strict=True))
            job["attempt_id"] = str(job["attempt_id"])
            if isinstance(job["metrics"], str | bytes):  # SQLite's driver: JSON text
                job["metrics"] = orjson.loads(job["metrics"])
            found.append(job)
    return found


def outcomes_before(
    conn: Connection, org_id: str, filters: Filters, until_ms: int
) -> list[Outcome]:
    """Attempts that ended success, failure or timed_out before ``until_ms``, oldest first,
    under the filters except ``status`` (a red period is made of both verdicts)."""
    query = filtered(
        sa.select(a.c.pipeline_id, a.c.branch, a.c.status, a.c.completed_at_ms, a.c.id),
        org_id,
        replace(filters, statuses=()),
    ).where(
        a.c.status.in_(("success", "failure", "timed_out")),
        a.c.completed_at_ms.is_not(None),
        a.c.completed_at_ms < until_ms,
    )
    query = query.order_by(a.c.completed_at_ms, a.c.id)
    return [Outcome(*row) for row in conn.execute(query)]


class MetricEvent(NamedTuple):
    """A run attempt's or job's custom metrics, with its run attempt's start and pipeline."""

    started_at_ms: int
    pipeline_id: str
    metrics: dict[str, Any]
    tags: dict[str, Any] | None


def metric_events(
    conn: Connection, org_id: str, window: Window, pipeline_ids: Sequence[str] | None = None
) -> list[MetricEvent]:
    """(started_at_ms, pipeline id, metrics, tags) of the run attempts in the window that pass
    its filters and carry metrics, and of their jobs and other nodes that do (with their run
    attempt's start: the window and buckets apply to the attempt), whatever their source: Trunk
    metrics, the queue time and runner tags of GitHub and GitLab webhooks alike."""
    return [event for _, event in metric_events_with_branch(conn, org_id, window, pipeline_ids)]


def metric_events_with_branch(
    conn: Connection, org_id: str, window: Window, pipeline_ids: Sequence[str] | None = None
) -> list[tuple[str | None, MetricEvent]]:
    """``metric_events``, each with its run attempt's branch."""
    found: list[tuple[str | None, MetricEvent]] = []
    runs = in_window(
        sa.select(a.c.branch, a.c.started_at_ms, a.c.pipeline_id, a.c.metrics, a.c.tags),
        org_id,
        window,
    ).where(a.c.metrics.is_not(None))
    nodes = jobs_in_window(
        sa.select(a.c.branch, a.c.started_at_ms, a.c.pipeline_id, jobs.c.metrics, jobs.c.tags),
        org_id,
        window,
    ).where(jobs.c.metrics.is_not(None))
    for query in (runs, nodes):
        if pipeline_ids is not None:
            query = query.where(a.c.pipeline_id.in_(sorted(pipeline_ids)))
        found += [
            (branch, MetricEvent(started, str(pipeline_id), metrics, tags))
            for branch, started, pipeline_id, metrics, tags in conn.execute(query)
            if metrics
        ]
    return found


def job_queue_values(
    conn: Connection, org_id: str, window: Window, pipeline_ids: Sequence[str] | None
) -> list[float]:
    """The queue times (``jobs.queue_seconds``) of the jobs directly under their run (no
    parent, or a parent their attempt does not hold) that carry one, of the attempts in the
    window that pass its filters (of those pipelines; None: all)."""
    rows = _top_level_jobs(conn, org_id, window, pipeline_ids, waited_only=True)
    return [float(queued) for queued, _ in rows]


def job_running_seconds(
    conn: Connection, org_id: str, window: Window, pipeline_ids: Sequence[str] | None
) -> float:
    """The sum of the durations (unknown add 0) of the same jobs, every one of them."""
    rows = _top_level_jobs(conn, org_id, window, pipeline_ids, waited_only=False)
    return sum(float(duration or 0.0) for _, duration in rows)


def _top_level_jobs(
    conn: Connection,
    org_id: str,
    window: Window,
    pipeline_ids: Sequence[str] | None,
    *,
    waited_only: bool,
) -> list[tuple[Any, Any]]:
    """(queue seconds, duration seconds) of the window's jobs directly under their run."""
    parent = jobs.alias("parent")
    has_parent = (
        sa.select(sa.literal(1))
        .where(
            parent.c.org_id == jobs.c.org_id,
            parent.c.attempt_id == jobs.c.attempt_id,
            parent.c.node_key == jobs.c.parent_node_key,
        )
        .exists()
    )
    columns = sa.select(jobs.c.queue_seconds, jobs.c.duration_seconds)
    query = jobs_in_window(columns, org_id, window).where(
        sa.or_(jobs.c.parent_node_key.is_(None), ~has_parent)
    )
    if waited_only:
        query = query.where(jobs.c.queue_seconds.is_not(None))
    if pipeline_ids is not None:
        query = query.where(a.c.pipeline_id.in_(sorted(pipeline_ids)))
    return [(row[0], row[1]) for row in conn.execute(query)]
