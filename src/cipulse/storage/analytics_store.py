"""Raw reads for analytics and the read API, scoped by organisation.

Reads for analytics and the read API: run attempts in a window under filters, the other
attempts of the same runs, jobs, repositories and pipelines. Every query is scoped to one
organisation."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cipulse.domain.tallies import AttemptFacts, Outcome
from cipulse.domain.window import DAY_MS, FALLBACK_DEFAULT_BRANCHES, Filters, Window
from cipulse.storage.dialect import json_member, placeholder
from cipulse.storage.schema import jobs, pipelines, repositories, run_attempts

a, p, r = run_attempts, pipelines, repositories


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
]


def _plain(row: Any) -> dict[str, Any]:
    """A row as a dict with plain ``str`` keys (SQLAlchemy's are a ``str`` subclass that
    JSON encoders refuse)."""
    return {str(key): value for key, value in row._mapping.items()}


def _facts(rows: Iterable[Any]) -> list[AttemptFacts]:
    return [AttemptFacts(*row) for row in rows]


def branch_scope_condition(
    branch: sa.ColumnElement[str | None], repository: sa.FromClause, scope: str
) -> sa.ColumnElement[bool]:
    """SQL for ``domain.window.in_branch_scope``: ``branch`` (of an attempt, or of a red
    period) is, or (``other``) is not, the default branch of ``repository`` (a row of
    repositories joined to it). The default's fallbacks come in with COALESCE, so the
    condition is never NULL for a known branch; a NULL branch is ``other``."""
    named = sa.func.nullif(repository.c.default_branch, "")
    defaults = [sa.func.coalesce(named, fallback) for fallback in FALLBACK_DEFAULT_BRANCHES]
    if scope == "default":
        return branch.in_(defaults)
    return sa.or_(branch.is_(None), branch.not_in(defaults))


def _filtered(
    query: sa.Select[Any], org_id: str, filters: Filters, *, joined: bool = False
) -> sa.Select[Any]:
    """Scope ``query`` (over run_attempts) to the organisation and the filters, joining
    pipelines and repositories when a filter needs them (unless ``joined`` already)."""
    query = query.where(a.c.org_id == org_id)
    if not joined and filters.pipeline_name is not None:
        query = query.join(p, sa.and_(p.c.org_id == a.c.org_id, p.c.id == a.c.pipeline_id))
    if not joined and (filters.repository is not None or filters.branch_scope is not None):
        query = query.join(r, sa.and_(r.c.org_id == a.c.org_id, r.c.id == a.c.repository_id))
    if filters.branch_scope is not None:
        query = query.where(branch_scope_condition(a.c.branch, r, filters.branch_scope))
    if filters.repository is not None:
        query = query.where(sa.func.lower(r.c.full_name) == filters.repository.lower())
    if filters.pipeline_id is not None:
        query = query.where(a.c.pipeline_id == filters.pipeline_id)
    if filters.pipeline_name is not None:
        query = query.where(p.c.name == filters.pipeline_name)
    for column, value in (
        (a.c.branch, filters.branch),
        (a.c.provider, filters.provider),
        (a.c.actor, filters.actor),
        (a.c.triggered_by, filters.triggered_by),
    ):
        if value is not None:
            query = query.where(column == value)
    if filters.statuses:
        query = query.where(a.c.status.in_(filters.statuses))
    for key, value in filters.tags:
        query = query.where(json_member(a.c.tags, key) == value)
    return query


def _in_window(query: sa.Select[Any], org_id: str, window: Window) -> sa.Select[Any]:
    return _filtered(query, org_id, window.filters).where(
        a.c.started_at_ms >= window.since_ms, a.c.started_at_ms < window.until_ms
    )


def attempts_in_window(
    conn: Connection, org_id: str, window: Window, pipeline_ids: Sequence[str] | None = None
) -> list[AttemptFacts]:
    """The attempts in the window that pass its filters (and, if given, of those pipelines)."""
    query = _filtered(sa.select(*_FACT_COLUMNS), org_id, window.filters).where(
        a.c.started_at_ms >= window.since_ms, a.c.started_at_ms < window.until_ms
    )
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


def pipeline_ids_of(conn: Connection, org_id: str, filters: Filters) -> list[str]:
    """The pipelines a repository or pipeline filter leaves (all of them without one)."""
    query = (
        sa.select(p.c.id)
        .select_from(p.join(r, sa.and_(r.c.org_id == p.c.org_id, r.c.id == p.c.repository_id)))
        .where(p.c.org_id == org_id)
    )
    if filters.repository is not None:
        query = query.where(sa.func.lower(r.c.full_name) == filters.repository.lower())
    if filters.pipeline_id is not None:
        query = query.where(p.c.id == filters.pipeline_id)
    if filters.pipeline_name is not None:
        query = query.where(p.c.name == filters.pipeline_name)
    return [row[0] for row in conn.execute(query)]


def default_branches(
    conn: Connection, org_id: str, pipeline_ids: Sequence[str] | None
) -> dict[str, str | None]:
    """Per pipeline (None: every pipeline of the organisation), the default branch its
    repository names (None: it names none)."""
    query = (
        sa.select(p.c.id, r.c.default_branch)
        .select_from(p.join(r, sa.and_(r.c.org_id == p.c.org_id, r.c.id == p.c.repository_id)))
        .where(p.c.org_id == org_id)
    )
    if pipeline_ids is not None:
        query = query.where(p.c.id.in_(sorted(set(pipeline_ids))))
    return {str(row[0]): row[1] for row in conn.execute(query)}


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


_FACT_SQL = ", ".join(column.name for column in _FACT_COLUMNS)


def attempts_of_runs(
    conn: Connection, org_id: str, runs: Iterable[tuple[str, str]]
) -> list[AttemptFacts]:
    """Every stored attempt of the given runs, whatever its time (retries cross windows)."""
    # The driver returns PostgreSQL's UUIDs as such: ids are strings everywhere else.
    return [
        AttemptFacts(str(row[0]), str(row[1]), str(row[2]), *row[3:])
        for row in rows_of_runs(conn, _FACT_SQL, org_id, runs)
    ]


def attempt_page(
    conn: Connection, org_id: str, window: Window, limit: int, after: tuple[int, str] | None
) -> list[dict[str, Any]]:
    """Attempts newest first (by ``started_at``, then id), after the cursor position."""
    query = (
        sa.select(
            a,
            p.c.name.label("pipeline_name"),
            r.c.host.label("repository_host"),
            r.c.full_name.label("repository"),
        )
        .select_from(
            a.join(p, sa.and_(p.c.org_id == a.c.org_id, p.c.id == a.c.pipeline_id)).join(
                r, sa.and_(r.c.org_id == a.c.org_id, r.c.id == a.c.repository_id)
            )
        )
        .where(a.c.started_at_ms >= window.since_ms, a.c.started_at_ms < window.until_ms)
        .order_by(a.c.started_at_ms.desc(), a.c.id.desc())
        .limit(limit)
    )
    query = _filtered(query, org_id, window.filters, joined=True)
    if after is not None:
        started, attempt_id = after
        query = query.where(
            sa.or_(
                a.c.started_at_ms < started,
                sa.and_(a.c.started_at_ms == started, a.c.id < attempt_id),
            )
        )
    return [_plain(row) for row in conn.execute(query)]


def attempt_detail(conn: Connection, org_id: str, attempt_id: str) -> dict[str, Any] | None:
    query = (
        sa.select(
            a,
            p.c.name.label("pipeline_name"),
            p.c.pipeline_key,
            r.c.host.label("repository_host"),
            r.c.full_name.label("repository"),
        )
        .select_from(
            a.join(p, sa.and_(p.c.org_id == a.c.org_id, p.c.id == a.c.pipeline_id)).join(
                r, sa.and_(r.c.org_id == a.c.org_id, r.c.id == a.c.repository_id)
            )
        )
        .where(a.c.org_id == org_id, a.c.id == attempt_id)
    )
    row = conn.execute(query).first()
    return None if row is None else _plain(row)


def sibling_attempts(
    conn: Connection, org_id: str, pipeline_id: str, run_key: str
) -> list[dict[str, Any]]:
    query = (
        sa.select(a.c.id, a.c.attempt, a.c.status, a.c.started_at_ms, a.c.completed_at_ms)
        .where(a.c.org_id == org_id, a.c.pipeline_id == pipeline_id, a.c.run_key == run_key)
        .order_by(a.c.attempt)
    )
    return [_plain(row) for row in conn.execute(query)]


def jobs_of(conn: Connection, org_id: str, attempt_ids: Sequence[str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for start in range(0, len(attempt_ids), 500):
        query = (
            sa.select(jobs)
            .where(
                jobs.c.org_id == org_id,
                jobs.c.attempt_id.in_(sorted(attempt_ids[start : start + 500])),
            )
            .order_by(jobs.c.attempt_id, jobs.c.started_at_ms, jobs.c.node_key)
        )
        rows += [_plain(row) for row in conn.execute(query)]
    return rows


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
            found.append(job)
    return found


def repository_rows(conn: Connection, org_id: str) -> list[dict[str, Any]]:
    query = sa.select(r.c.id, r.c.host, r.c.full_name, r.c.created_at_ms).where(
        r.c.org_id == org_id
    )
    return [_plain(row) for row in conn.execute(query.order_by(r.c.full_name))]


def pipeline_rows(conn: Connection, org_id: str) -> list[dict[str, Any]]:
    query = (
        sa.select(
            p.c.id,
            p.c.name,
            p.c.pipeline_key,
            p.c.repository_id,
            r.c.full_name.label("repository"),
            r.c.host.label("repository_host"),
            p.c.created_at_ms,
        )
        .select_from(p.join(r, sa.and_(r.c.org_id == p.c.org_id, r.c.id == p.c.repository_id)))
        .where(p.c.org_id == org_id)
        .order_by(r.c.full_name, p.c.name)
    )
    return [_plain(row) for row in conn.execute(query)]


def outcomes_before(
    conn: Connection, org_id: str, filters: Filters, until_ms: int
) -> list[Outcome]:
    """Attempts that ended success, failure or timed_out before ``until_ms``, oldest first,
    under the filters except ``status`` (a red period is made of both verdicts)."""
    query = _filtered(
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
    runs = _in_window(
        sa.select(a.c.branch, a.c.started_at_ms, a.c.pipeline_id, a.c.metrics, a.c.tags),
        org_id,
        window,
    ).where(a.c.metrics.is_not(None))
    nodes = _jobs_in_window(
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


def _jobs_in_window(query: sa.Select[Any], org_id: str, window: Window) -> sa.Select[Any]:
    joined = query.select_from(
        a.join(jobs, sa.and_(jobs.c.org_id == a.c.org_id, jobs.c.attempt_id == a.c.id))
    )
    return _in_window(joined, org_id, window)


def latest_attempts(
    conn: Connection,
    org_id: str,
    pipeline_ids: Sequence[str],
    filters: Filters,
    until_ms: int,
    count: int,
) -> dict[str, list[dict[str, Any]]]:
    """Per pipeline, its ``count`` latest attempts started before ``until_ms`` that pass the
    filters, oldest first: one index range per pipeline (a branch scope compares the branch
    with the pipeline's default branches, read first, so no join keeps PostgreSQL from
    walking the index newest first)."""
    scope = filters.branch_scope
    defaults = default_branches(conn, org_id, pipeline_ids) if scope else {}
    unscoped = replace(filters, branch_scope=None)
    latest: dict[str, list[dict[str, Any]]] = {}
    for pipeline_id in pipeline_ids:
        query = _filtered(
            sa.select(
                a.c.id,
                a.c.status,
                a.c.duration_seconds,
                a.c.started_at_ms,
                a.c.branch,
                a.c.provider,
            )
            .where(a.c.pipeline_id == pipeline_id, a.c.started_at_ms < until_ms)
            .order_by(a.c.started_at_ms.desc())
            .limit(count),
            org_id,
            unscoped,
        )
        if scope:
            named = defaults.get(pipeline_id)
            on_default = a.c.branch.in_((named,) if named else FALLBACK_DEFAULT_BRANCHES)
            query = query.where(
                on_default if scope == "default" else sa.or_(a.c.branch.is_(None), ~on_default)
            )
        latest[pipeline_id] = [_plain(row) for row in conn.execute(query)][::-1]
    return latest


def latest_providers(conn: Connection, org_id: str) -> dict[str, str]:
    """Per pipeline, the provider of its latest attempt: one statement, an index lookup per
    pipeline."""
    latest = (
        sa.select(a.c.provider)
        .where(a.c.org_id == p.c.org_id, a.c.pipeline_id == p.c.id)
        .order_by(a.c.started_at_ms.desc())
        .limit(1)
        .correlate(p)
        .scalar_subquery()
    )
    query = sa.select(p.c.id, latest).where(p.c.org_id == org_id)
    return {str(row[0]): row[1] for row in conn.execute(query) if row[1] is not None}


def attempt_completed_at(
    conn: Connection, org_id: str, pipeline_id: str, branch: str | None, completed_at_ms: int
) -> str | None:
    """The attempt of the pipeline on the branch that completed at that moment (the one that
    turned it red), looking back at most a week for its start."""
    query = (
        sa.select(a.c.id)
        .where(
            a.c.org_id == org_id,
            a.c.pipeline_id == pipeline_id,
            a.c.started_at_ms <= completed_at_ms,
            a.c.started_at_ms > completed_at_ms - 7 * 86_400_000,
            a.c.completed_at_ms == completed_at_ms,
            a.c.branch.is_(None) if branch is None else a.c.branch == branch,
        )
        .order_by(a.c.attempt.desc())
        .limit(1)
    )
    return conn.execute(query).scalar()
