"""Rollup tables read back: periods, organisation rows, red periods.

Rollup tables: the figures the refresher stores per pipeline and period (hours, UTC days,
7- and 28-day blocks), organisation-wide rows, repeats, red periods and custom metrics; and
reading them back. Which stored figures are stale is ``rollup_marks.py``'s business."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cipulse.domain.compute import LEVELS
from cipulse.domain.histogram import Histogram
from cipulse.domain.window import FALLBACK_DEFAULT_BRANCHES
from cipulse.storage.analytics_store import (
    JobTally,
    RunTally,
)
from cipulse.storage.dialect import column_names, placeholder
from cipulse.storage.schema import (
    STATUS_NAMES,
    job_rollups,
    metric_rollups,
    red_periods,
    rollup_repeats,
    run_attempts,
    run_rollups,
)

a = run_attempts
Partition = tuple[str, int]  # (pipeline id, day)
#: ``grain`` of a day's rows (``period``: days since the epoch) and of an hour's (hours).
DAY = 1
HOUR = 0
#: The pipeline id of the organisation-wide rows: every pipeline's figures added up.
ORG = "00000000-0000-0000-0000-000000000000"
#: ``branch_scope`` of the stored rows, by ``Filters.branch_scope``: every branch, the
#: repository's default branch, the others.
SCOPE_CODES: dict[str | None, int] = {None: 0, "default": 1, "other": 2}
FIRST_STATUSES = ("success", "failure", "timed_out")
_RUN_COLUMNS = column_names(run_rollups)
_JOB_COLUMNS = column_names(job_rollups)


# --- Rows <-> tallies ----------------------------------------------------------------------


def _counts(values: Sequence[Any], names: Sequence[str]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for name, value in zip(names, values, strict=True):
        if value:
            counts[name] = int(value)
    return counts


def run_tally_of(row: Sequence[Any]) -> RunTally:
    """A run tally from a ``run_rollups`` row (as read by ``run_rows``)."""
    n = len(STATUS_NAMES)
    f = len(FIRST_STATUSES)
    histogram = Histogram()
    rest = row[4 + n + f :]
    histogram.merge_encoded(orjson.loads(rest[3]), rest[1], rest[2])
    return RunTally(
        by_status=_counts(row[4 : 4 + n], STATUS_NAMES),
        first_by_status=_counts(row[4 + n : 4 + n + f], FIRST_STATUSES),
        compute_seconds=rest[0],
        durations=histogram,
        decided_runs=rest[4],
        flaky_runs=rest[5],
        retry_compute_seconds=rest[6],
        duration_top_bucket=rest[8],
    )


def job_tally_of(row: Sequence[Any]) -> JobTally:
    """A job tally from a ``job_rollups`` row (as read by ``job_rows``)."""
    n = len(STATUS_NAMES)
    rest = row[6 + n :]
    histogram = Histogram()
    histogram.merge_encoded(orjson.loads(rest[2]), rest[0], rest[1])
    return JobTally(
        name=row[5],
        by_status=_counts(row[6 : 6 + n], STATUS_NAMES),
        durations=histogram,
        total_duration_seconds=rest[3],
        exclusive_seconds=rest[4],
        flaky_count=rest[5],
        retry_compute_seconds=rest[6],
        last_flaky_at_ms=rest[7],
        duration_top_bucket=rest[9],
        level=None if rest[10] is None else LEVELS[rest[10]],
    )


# --- Reading -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Selection:
    """Stored periods to read: whole blocks ((grain, first day): 28- and 7-day rows) and days,
    plus days read for one pipeline only (whose block row is stale), minus the (pipeline,
    grain, period) rows that are stale, of some pipelines (None: all but ``ORG``)."""

    blocks: tuple[tuple[int, int], ...]
    days: tuple[int, ...]
    extra_days: frozenset[Partition] = frozenset()
    excluded: frozenset[tuple[str, int, int]] = frozenset()
    pipeline_ids: tuple[str, ...] | None = None
    scope: int = 0  # SCOPE_CODES
    #: Stale hours: (pipeline id, first hour, the hour after the last) of dirty days.
    excluded_hours: frozenset[tuple[str, int, int]] = frozenset()

    def conditions(self, table: sa.Table, org_id: str) -> list[sa.ColumnElement[bool]]:
        """One condition per grain (and one for the extra days): each is a range of the
        primary key (org_id, grain, period, …), where one condition OR-ing them would make
        SQLite scan every row of the organisation. Their rows never overlap."""
        by_grain: dict[int, list[int]] = {}
        for grain, period in self.blocks:
            by_grain.setdefault(grain, []).append(period)
        if self.days:
            by_grain[DAY] = list(self.days)
        excluded = [
            sa.not_(
                sa.and_(
                    table.c.pipeline_id == pipeline_id,
                    table.c.grain == grain,
                    table.c.period == period,
                )
            )
            for pipeline_id, grain, period in sorted(self.excluded)
        ]
        excluded += [
            sa.not_(
                sa.and_(
                    table.c.pipeline_id == pipeline_id,
                    table.c.grain == HOUR,
                    table.c.period >= first,
                    table.c.period < end,
                )
            )
            for pipeline_id, first, end in sorted(self.excluded_hours)
        ]
        pipelines: sa.ColumnElement[bool] = (
            table.c.pipeline_id.in_(sorted(self.pipeline_ids))
            if self.pipeline_ids is not None
            else table.c.pipeline_id != ORG
        )
        found = [
            sa.and_(
                table.c.org_id == org_id,
                table.c.grain == grain,
                table.c.period.in_(sorted(periods)),
                table.c.branch_scope == self.scope,
                pipelines,
                *excluded,
            )
            for grain, periods in sorted(by_grain.items())
        ]
        if self.extra_days:
            found.append(
                sa.and_(
                    table.c.org_id == org_id,
                    table.c.grain == DAY,
                    table.c.branch_scope == self.scope,
                    sa.or_(
                        *(
                            sa.and_(table.c.pipeline_id == pipeline_id, table.c.period == day)
                            for pipeline_id, day in sorted(self.extra_days)
                        )
                    ),
                    *excluded,
                )
            )
        return found


def run_rows(
    conn: Connection,
    org_id: str,
    grain: int,
    periods: Sequence[int],
    pipeline_ids: Sequence[str] | None,
    scope: int,
) -> list[tuple[Any, ...]]:
    """The stored rows of some periods of one grain (the refresher's week rebuild)."""
    return selected_run_rows(conn, org_id, _periods_of(grain, periods, pipeline_ids, scope))


def _periods_of(
    grain: int, periods: Sequence[int], pipeline_ids: Sequence[str] | None, scope: int
) -> Selection:
    return Selection(
        blocks=tuple((grain, p) for p in periods) if grain != DAY else (),
        days=tuple(periods) if grain == DAY else (),
        pipeline_ids=None if pipeline_ids is None else tuple(pipeline_ids),
        scope=scope,
    )


def selected_run_rows(conn: Connection, org_id: str, selection: Selection) -> list[tuple[Any, ...]]:
    return [
        tuple(row)
        for condition in selection.conditions(run_rollups, org_id)
        for row in conn.execute(sa.select(*run_rollups.c).where(condition))
    ]


def job_rows(
    conn: Connection,
    org_id: str,
    grain: int,
    periods: Sequence[int],
    pipeline_ids: Sequence[str] | None,
    scope: int,
) -> list[tuple[Any, ...]]:
    selection = _periods_of(grain, periods, pipeline_ids, scope)
    return [
        tuple(row)
        for condition in selection.conditions(job_rollups, org_id)
        for row in conn.execute(sa.select(*job_rollups.c).where(condition))
    ]


def _totals(
    conn: Connection,
    table: sa.Table,
    org_id: str,
    selection: Selection,
    keys: Sequence[str],
    summed: Sequence[str],
    highest: Sequence[str],
    lowest: Sequence[str] = (),
) -> list[Sequence[Any]]:
    """Per ``keys``, the ``summed`` columns added up, the ``highest`` ones' maximum and the
    ``lowest`` ones' minimum, over the selection's rows, by the database: one row per key
    instead of one per period."""
    columns = [*keys, *summed, *highest, *lowest]
    branches = [
        sa.select(*(table.c[c] for c in columns)).where(condition)
        for condition in selection.conditions(table, org_id)
    ]
    if not branches:
        return []
    rows = (sa.union_all(*branches) if len(branches) > 1 else branches[0]).subquery()
    query = sa.select(
        *(rows.c[c] for c in keys),
        *(sa.func.sum(rows.c[c]) for c in summed),
        *(sa.func.max(rows.c[c]) for c in highest),
        *(sa.func.min(rows.c[c]) for c in lowest),
    ).group_by(*(rows.c[c] for c in keys))
    return list(conn.execute(query))


def _counted_histogram(count: Any, total: Any) -> Histogram:
    """A histogram that holds the count and sum of its values only (no buckets)."""
    histogram = Histogram()
    histogram.count, histogram.total, histogram.values = int(count), float(total), None
    return histogram


def run_totals(conn: Connection, org_id: str, selection: Selection) -> dict[str, RunTally]:
    """Run tallies per pipeline summed by the database over the selection, without their
    durations' histograms (count and sum only; the top bucket kept)."""
    n, f = len(STATUS_NAMES), len(FIRST_STATUSES)
    summed = [
        *(f"n_{s}" for s in STATUS_NAMES),
        *(f"first_{s}" for s in FIRST_STATUSES),
        "compute_seconds",
        "duration_count",
        "duration_sum",
        "decided_runs",
        "flaky_runs",
        "retry_compute_seconds",
    ]
    found: dict[str, RunTally] = {}
    rows = _totals(
        conn, run_rollups, org_id, selection, ["pipeline_id"], summed, ["duration_top_bucket"]
    )
    for row in rows:
        rest = row[1 + n + f :]
        found[str(row[0])] = RunTally(
            by_status=_counts(row[1 : 1 + n], STATUS_NAMES),
            first_by_status=_counts(row[1 + n : 1 + n + f], FIRST_STATUSES),
            compute_seconds=float(rest[0]),
            durations=_counted_histogram(rest[1], rest[2]),
            decided_runs=int(rest[3]),
            flaky_runs=int(rest[4]),
            retry_compute_seconds=float(rest[5]),
            duration_top_bucket=rest[6],
        )
    return found


def job_totals(
    conn: Connection, org_id: str, selection: Selection
) -> dict[tuple[str, str], JobTally]:
    """Job tallies summed by the database over the selection, without durations'
    histograms (``job_histograms`` reads those for the jobs that need them)."""
    summed = [
        *(f"n_{s}" for s in STATUS_NAMES),
        "duration_count",
        "duration_sum",
        "total_duration_seconds",
        "exclusive_seconds",
        "flaky_count",
        "retry_compute_seconds",
    ]
    highest = ["name", "last_flaky_at_ms", "duration_top_bucket"]
    keys = ["pipeline_id", "definition_key"]
    n = len(STATUS_NAMES)
    tallies: dict[tuple[str, str], JobTally] = {}
    # The outer level a job was seen at (``domain.compute.outer_level``): the lowest code.
    for row in _totals(conn, job_rollups, org_id, selection, keys, summed, highest, ["level"]):
        rest = row[2 + n :]
        tallies[(str(row[0]), row[1])] = JobTally(
            name=rest[6],
            by_status=_counts(row[2 : 2 + n], STATUS_NAMES),
            durations=_counted_histogram(rest[0], rest[1]),
            total_duration_seconds=float(rest[2]),
            exclusive_seconds=float(rest[3]),
            flaky_count=int(rest[4]),
            retry_compute_seconds=float(rest[5]),
            last_flaky_at_ms=rest[7],
            duration_top_bucket=rest[8],
            level=None if rest[9] is None else LEVELS[rest[9]],
        )
    return tallies


def job_histograms(
    conn: Connection, org_id: str, selection: Selection, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], Histogram]:
    """The merged duration histograms of the given jobs over the selection."""
    found: dict[tuple[str, str], Histogram] = {}
    if not keys:
        return found
    j = job_rollups
    wanted = set(keys)
    # The pipelines let the database seek by primary key (period, scope, pipeline); the pairs
    # keep the wanted jobs of each.
    pairs = sa.and_(
        j.c.pipeline_id.in_(sorted({pipeline_id for pipeline_id, _ in wanted})),
        sa.tuple_(j.c.pipeline_id, j.c.definition_key).in_(sorted(wanted)),
    )
    for condition in selection.conditions(j, org_id):
        query = sa.select(
            j.c.pipeline_id,
            j.c.definition_key,
            j.c.duration_count,
            j.c.duration_sum,
            j.c.duration_histogram,
        ).where(condition, pairs, j.c.duration_count > 0)
        for pipeline_id, definition, count, total, encoded in conn.execute(query):
            key = (str(pipeline_id), definition)
            if key in wanted:
                histogram = found.setdefault(key, Histogram())
                histogram.merge_encoded(orjson.loads(encoded), count, total)
    return found


def repeats_in(
    conn: Connection,
    org_id: str,
    grain: int,
    periods: Sequence[int],
    pipeline_ids: Sequence[str] | None,
    scope: int,
) -> list[tuple[str, int, int]]:
    """(pipeline id, period, previous start) of the stored repeats of the given days or
    hours."""
    if not periods:
        return []
    r = rollup_repeats
    query = sa.select(r.c.pipeline_id, r.c.period, r.c.previous_started_at_ms).where(
        r.c.org_id == org_id,
        r.c.grain == grain,
        r.c.period >= min(periods),
        r.c.period <= max(periods),
        r.c.branch_scope == scope,
    )
    if pipeline_ids is not None:
        query = query.where(r.c.pipeline_id.in_(sorted(pipeline_ids)))
    wanted = set(periods)
    return [(row[0], row[1], row[2]) for row in conn.execute(query) if row[1] in wanted]


# --- Red periods ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredPeriod:
    id: str
    pipeline_id: str
    branch: str | None
    started_at_ms: int
    ended_at_ms: int | None
    failing_attempts: int


_PERIOD_COLUMNS = [
    red_periods.c.id,
    red_periods.c.pipeline_id,
    red_periods.c.branch,
    red_periods.c.started_at_ms,
    red_periods.c.ended_at_ms,
    red_periods.c.failing_attempts,
]


def periods_from(
    conn: Connection, org_id: str, pipeline_id: str, from_ms: int
) -> list[StoredPeriod]:
    """The stored red periods of a pipeline still open, or ended at or after ``from_ms``."""
    rp = red_periods
    query = sa.select(*_PERIOD_COLUMNS).where(
        rp.c.org_id == org_id,
        rp.c.pipeline_id == pipeline_id,
        sa.or_(rp.c.ended_at_ms.is_(None), rp.c.ended_at_ms >= from_ms),
    )
    return [StoredPeriod(*row) for row in conn.execute(query)]


def period_scope(
    org_id: str,
    pipeline_ids: Sequence[str] | None,
    branch: str | None,
    stale: dict[str, int],
    branch_scope: str | None = None,
    defaults: dict[str, str | None] | None = None,
) -> list[sa.ColumnElement[bool]]:
    """Conditions: the organisation, the pipelines, branch and branch scope asked for (the
    scope by ``defaults``: every pipeline's default branch, as ``default_branches`` reads
    them), and not the stale periods of pipelines being recomputed (``stale``: pipeline id
    → from ms)."""
    rp = red_periods
    conditions: list[sa.ColumnElement[bool]] = [rp.c.org_id == org_id]
    if pipeline_ids is not None:
        conditions.append(rp.c.pipeline_id.in_(sorted(pipeline_ids)))
    if branch is not None:
        conditions.append(rp.c.branch == branch)
    if branch_scope is not None:
        conditions.append(_period_in_branch_scope(branch_scope, defaults or {}))
    for pipeline_id, from_ms in sorted(stale.items()):
        conditions.append(
            sa.not_(
                sa.and_(
                    rp.c.pipeline_id == pipeline_id,
                    sa.or_(rp.c.ended_at_ms.is_(None), rp.c.ended_at_ms >= from_ms),
                )
            )
        )
    return conditions


def _period_in_branch_scope(scope: str, defaults: dict[str, str | None]) -> sa.ColumnElement[bool]:
    """A period's branch is (``default``) or is not (``other``) its pipeline's default
    branch: one condition per set of default branches (usually one: main or master for
    every pipeline), so the database compares values instead of joining per period."""
    rp = red_periods
    groups: dict[tuple[str, ...], list[str]] = {}
    for pipeline_id, named in sorted(defaults.items()):
        groups.setdefault((named,) if named else FALLBACK_DEFAULT_BRANCHES, []).append(pipeline_id)
    on_default: sa.ColumnElement[bool]
    if len(groups) == 1:
        # Every pipeline shares its defaults (read in the transaction reading the periods).
        (branches,) = groups
        on_default = rp.c.branch.in_(branches)
    else:
        on_default = sa.or_(
            sa.false(),
            *(
                sa.and_(rp.c.pipeline_id.in_(ids), rp.c.branch.in_(branches))
                for branches, ids in groups.items()
            ),
        )
    if scope == "default":
        return on_default
    return sa.or_(rp.c.branch.is_(None), sa.not_(on_default))


def _ended_in(since_ms: int, until_ms: int) -> sa.ColumnElement[bool]:
    return sa.and_(red_periods.c.ended_at_ms >= since_ms, red_periods.c.ended_at_ms < until_ms)


def _open_at(until_ms: int) -> list[sa.ColumnElement[bool]]:
    """Red at ``until_ms``: two conditions, each served by the index on ``ended_at_ms``."""
    rp = red_periods
    return [
        sa.and_(rp.c.ended_at_ms.is_(None), rp.c.started_at_ms < until_ms),
        sa.and_(rp.c.ended_at_ms >= until_ms, rp.c.started_at_ms < until_ms),
    ]


def period_stats(
    conn: Connection,
    org_id: str,
    since_ms: int,
    until_ms: int,
    scope: list[sa.ColumnElement[bool]],
) -> tuple[int, float, int]:
    """(periods ended in the window, their total length in seconds, periods red at its end)
    among the stored periods in ``scope`` (``period_scope``)."""
    rp = red_periods
    ended = conn.execute(
        sa.select(
            sa.func.count(), sa.func.coalesce(sa.func.sum(rp.c.ended_at_ms - rp.c.started_at_ms), 0)
        ).where(*scope, _ended_in(since_ms, until_ms))
    ).one()
    red_now = sum(
        conn.execute(sa.select(sa.func.count()).where(*scope, condition)).scalar_one()
        for condition in _open_at(until_ms)
    )
    return int(ended[0]), float(ended[1]) / 1000, red_now


def period_rows(
    conn: Connection,
    org_id: str,
    since_ms: int,
    until_ms: int,
    scope: list[sa.ColumnElement[bool]],
    *,
    ended: bool,
    limit: int | None,
) -> list[StoredPeriod]:
    """Stored periods in ``scope`` that ended in the window, newest first (``ended``), or
    that were red at its end, longest red first; at most ``limit`` (None: all)."""
    rp = red_periods
    found: list[StoredPeriod] = []
    conditions = [_ended_in(since_ms, until_ms)] if ended else _open_at(until_ms)
    for condition in conditions:
        query = sa.select(*_PERIOD_COLUMNS).where(*scope, condition)
        query = query.order_by(rp.c.ended_at_ms.desc() if ended else rp.c.started_at_ms, rp.c.id)
        if limit is not None:
            query = query.limit(limit)
        found += [StoredPeriod(str(row[0]), str(row[1]), *row[2:]) for row in conn.execute(query)]
    return found


def outcomes_of_pipeline(
    conn: Connection, org_id: str, pipeline_id: str, from_ms: int
) -> list[tuple[str | None, str, int, str]]:
    """(branch, status, completed_at_ms, id) of the pipeline's attempts that ended success,
    failure or timed_out at or after ``from_ms``, oldest first. On the driver: the
    refresher reads every outcome of a pipeline's history."""
    mark = placeholder(conn)
    sql = (
        "SELECT branch, status, completed_at_ms, id FROM run_attempts "
        f"WHERE org_id = {mark} AND pipeline_id = {mark} "
        "AND status IN ('success', 'failure', 'timed_out') "
        f"AND completed_at_ms >= {mark} ORDER BY completed_at_ms, id"
    )
    return [
        (branch, status, completed, str(attempt_id))
        for branch, status, completed, attempt_id in conn.exec_driver_sql(
            sql, (org_id, pipeline_id, from_ms)
        )
    ]


# --- Custom metrics --------------------------------------------------------------------------

#: (pipeline id, metric key, tag key or '' for all the metric's values, tag value or '')
MetricKey = tuple[str, str, str, str]


def metric_histograms(
    conn: Connection,
    org_id: str,
    selection: Selection,
    metric_key: str | None = None,
    tag_key: str | None = None,
) -> list[tuple[int, MetricKey, Histogram]]:
    """(period, key, histogram) of the stored metric rows of the selection; of one metric
    key (and its values overall plus per value of one tag key) when given."""
    m = metric_rollups
    found = []
    for condition in selection.conditions(m, org_id):
        found += _metric_rows(conn, condition, metric_key, tag_key)
    return found


def _metric_rows(
    conn: Connection,
    condition: sa.ColumnElement[bool],
    metric_key: str | None,
    tag_key: str | None,
) -> list[tuple[int, MetricKey, Histogram]]:
    m = metric_rollups
    query = sa.select(
        m.c.period,
        m.c.pipeline_id,
        m.c.metric_key,
        m.c.tag_key,
        m.c.tag_value,
        m.c.value_count,
        m.c.value_sum,
        m.c.histogram,
    ).where(condition)
    if metric_key is not None:
        query = query.where(m.c.metric_key == metric_key, m.c.tag_key.in_(["", tag_key or ""]))
    found = []
    for period, pipeline_id, key, t_key, t_value, count, total, encoded in conn.execute(query):
        histogram = Histogram()
        histogram.merge_encoded(orjson.loads(encoded), count, total)
        found.append((period, (str(pipeline_id), key, t_key, t_value), histogram))
    return found


def metric_keys(conn: Connection, org_id: str, selection: Selection) -> tuple[set[str], set[str]]:
    """The metric keys and tag keys of the stored metric rows of the selection."""
    m = metric_rollups
    metrics, tags = set(), set()
    for condition in selection.conditions(m, org_id):
        query = sa.select(m.c.metric_key, m.c.tag_key).where(condition).distinct()
        for metric_key, tag_key in conn.execute(query):
            metrics.add(metric_key)
            if tag_key:
                tags.add(tag_key)
    return metrics, tags
