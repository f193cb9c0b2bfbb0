"""Stored run and job figures read back, as the read plan selects them.

A ``Selection`` names stored rows (periods of some grains, of some pipelines, in one branch
scope, minus stale ones); the functions here read them as named rows, or summed by the
database (``run_totals``, ``job_totals``), or just what some jobs need beyond those sums
(``job_details``: duration histograms and metric aggregates)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cipulse.domain.compute import LEVELS
from cipulse.domain.histogram import Histogram
from cipulse.domain.tallies import FAILURE_CLASSES, Grain, JobTally, RunTally
from cipulse.storage.rollups.keys import FIRST_STATUSES, ORG, Partition
from cipulse.storage.rollups.stored_rows import (
    StoredJob,
    StoredRepeat,
    StoredRun,
    decoded_metrics,
    stored_job,
    stored_run,
)
from cipulse.storage.rollups.stored_rows import (
    counter_of as _counter,
)
from cipulse.storage.schema import STATUS_NAMES, job_rollups, rollup_repeats, run_rollups

#: ``job_rollups.metrics`` of a job whose executions carried none.
_NO_METRICS = "{}"


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

    @classmethod
    def of_periods(
        cls, grain: int, periods: Sequence[int], pipeline_ids: Sequence[str] | None, scope: int
    ) -> Selection:
        """Some periods of one grain (days, hours or blocks) of those pipelines (None: every
        pipeline's, not the organisation's), in one branch scope."""
        return cls(
            blocks=tuple((grain, p) for p in periods) if grain != Grain.DAY else (),
            days=tuple(periods) if grain == Grain.DAY else (),
            pipeline_ids=None if pipeline_ids is None else tuple(pipeline_ids),
            scope=scope,
        )

    def conditions(self, table: sa.Table, org_id: str) -> list[sa.ColumnElement[bool]]:
        """One condition per grain (and one for the extra days): each is a range of the
        primary key (org_id, grain, period, …), where one condition OR-ing them would make
        SQLite scan every row of the organisation. Their rows never overlap."""
        by_grain: dict[int, list[int]] = {}
        for grain, period in self.blocks:
            by_grain.setdefault(grain, []).append(period)
        if self.days:
            by_grain[Grain.DAY] = list(self.days)
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
                *self._excluded(table, grain),
            )
            for grain, periods in sorted(by_grain.items())
        ]
        if self.extra_days:
            found.append(
                sa.and_(
                    table.c.org_id == org_id,
                    table.c.grain == Grain.DAY,
                    table.c.branch_scope == self.scope,
                    sa.tuple_(table.c.pipeline_id, table.c.period).in_(sorted(self.extra_days)),
                    *self._excluded(table, Grain.DAY),
                )
            )
        return found

    def _excluded(self, table: sa.Table, grain: int) -> list[sa.ColumnElement[bool]]:
        """Conditions leaving out the stale rows of ``grain`` and the stale hours: one
        (pipeline, period) list rather than a clause per row, so that a read after a large
        ingest (hundreds of stale days) builds and compiles one expression, not hundreds."""
        stale = sorted((p, period) for p, g, period in self.excluded if g == grain)
        excluded: list[sa.ColumnElement[bool]] = []
        if stale:
            excluded.append(sa.tuple_(table.c.pipeline_id, table.c.period).not_in(stale))
        if grain == Grain.HOUR:
            excluded += [
                sa.not_(
                    sa.and_(
                        table.c.pipeline_id == pipeline_id,
                        table.c.period >= first,
                        table.c.period < end,
                    )
                )
                for pipeline_id, first, end in sorted(self.excluded_hours)
            ]
        return excluded


def run_rows(
    conn: Connection,
    org_id: str,
    grain: int,
    periods: Sequence[int],
    pipeline_ids: Sequence[str] | None,
    scope: int,
) -> list[StoredRun]:
    """The stored rows of some periods of one grain (the refresher's week rebuild)."""
    return selected_run_rows(
        conn, org_id, Selection.of_periods(grain, periods, pipeline_ids, scope)
    )


def selected_run_rows(conn: Connection, org_id: str, selection: Selection) -> list[StoredRun]:
    return [stored_run(row) for row in _selected(conn, run_rollups, org_id, selection)]


def _selected(
    conn: Connection, table: sa.Table, org_id: str, selection: Selection
) -> Iterator[sa.Row[Any]]:
    """The rows of ``table`` the selection names, one query per condition."""
    for condition in selection.conditions(table, org_id):
        yield from conn.execute(sa.select(*table.c).where(condition))


def job_rows(
    conn: Connection,
    org_id: str,
    grain: int,
    periods: Sequence[int],
    pipeline_ids: Sequence[str] | None,
    scope: int,
) -> list[StoredJob]:
    """The stored job rows of some periods of one grain."""
    selection = Selection.of_periods(grain, periods, pipeline_ids, scope)
    return [stored_job(row) for row in _selected(conn, job_rollups, org_id, selection)]


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
    statuses = [*(f"n_{s}" for s in STATUS_NAMES), *(f"first_{s}" for s in FIRST_STATUSES)]
    figures = ["compute_seconds", "duration_count", "duration_sum", "decided_runs"]
    figures += ["flaky_runs", "retry_compute_seconds"]
    classes = [f"failed_{c}" for c in FAILURE_CLASSES]
    n, f, k = len(STATUS_NAMES), len(FIRST_STATUSES), len(FAILURE_CLASSES)
    found: dict[str, RunTally] = {}
    for row in _totals(
        conn,
        run_rollups,
        org_id,
        selection,
        ["pipeline_id"],
        [*statuses, *classes, *figures],
        ["duration_top_bucket"],
    ):
        pipeline_id, counts, by_class = row[0], row[1 : 1 + n + f], row[1 + n + f : 1 + n + f + k]
        compute, count, total, decided, flaky, retry, top = row[1 + n + f + k :]
        found[str(pipeline_id)] = RunTally(
            by_status=_counter(counts[:n], STATUS_NAMES),
            first_by_status=_counter(counts[n:], FIRST_STATUSES),
            compute_seconds=float(compute),
            durations=_counted_histogram(count, total),
            decided_runs=int(decided),
            flaky_runs=int(flaky),
            retry_compute_seconds=float(retry),
            duration_top_bucket=top,
            failed_by_class=_counter(by_class, FAILURE_CLASSES),
        )
    return found


def job_totals(
    conn: Connection, org_id: str, selection: Selection
) -> dict[tuple[str, str], JobTally]:
    """Job tallies summed by the database over the selection, without durations'
    histograms (``job_histograms`` reads those for the jobs that need them)."""
    summed = [*(f"n_{s}" for s in STATUS_NAMES), "duration_count", "duration_sum"]
    summed += ["total_duration_seconds", "exclusive_seconds", "flaky_count"]
    summed += ["retry_compute_seconds", "failures_passed_on_retry"]
    summed += [f"failed_{c}" for c in FAILURE_CLASSES]
    highest = ["name", "last_flaky_at_ms", "duration_top_bucket"]
    keys = ["pipeline_id", "definition_key"]
    # The outer level a job was seen at (``domain.compute.outer_level``): the lowest code.
    lowest = ["level"]
    n = len(STATUS_NAMES)
    tallies: dict[tuple[str, str], JobTally] = {}
    for row in _totals(conn, job_rollups, org_id, selection, keys, summed, highest, lowest):
        pipeline_id, definition_key, counts = row[0], row[1], row[2 : 2 + n]
        (count, total, total_duration, exclusive, flaky, retry, passed) = row[2 + n : 9 + n]
        k = len(FAILURE_CLASSES)
        by_class = row[9 + n : 9 + n + k]
        name, last_flaky, top, level = row[9 + n + k :]
        tallies[(str(pipeline_id), definition_key)] = JobTally(
            name=name,
            by_status=_counter(counts, STATUS_NAMES),
            durations=_counted_histogram(count, total),
            total_duration_seconds=float(total_duration),
            exclusive_seconds=float(exclusive),
            flaky_count=int(flaky),
            retry_compute_seconds=float(retry),
            failures_passed_on_retry=int(passed),
            last_flaky_at_ms=last_flaky,
            duration_top_bucket=top,
            level=None if level is None else LEVELS[level],
            failed_by_class=_counter(by_class, FAILURE_CLASSES),
        )
    return tallies


class JobDetail(NamedTuple):
    """What ``job_totals`` leaves out of a job's stored rows, merged over a selection: its
    durations' histogram and its metrics' aggregates (per key, ``JobTally.metrics``)."""

    durations: Histogram
    metrics: dict[str, Histogram]


def job_details(
    conn: Connection, org_id: str, selection: Selection, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], JobDetail]:
    """The merged duration histograms and metric aggregates of the given jobs over the
    selection."""
    found: dict[tuple[str, str], JobDetail] = {}
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
            j.c.metrics,
        ).where(condition, pairs, sa.or_(j.c.duration_count > 0, j.c.metrics != _NO_METRICS))
        for pipeline_id, definition, count, total, encoded, metrics in conn.execute(query):
            key = (str(pipeline_id), definition)
            if key in wanted:
                detail = found.setdefault(key, JobDetail(Histogram(), {}))
                if count:  # a row kept for its metrics adds no duration
                    detail.durations.merge_encoded(orjson.loads(encoded), count, total)
                for name, values in decoded_metrics(metrics).items():
                    detail.metrics.setdefault(name, Histogram()).merge(values)
    return found


def repeats_in(
    conn: Connection,
    org_id: str,
    grain: int,
    periods: Sequence[int],
    pipeline_ids: Sequence[str] | None,
    scope: int,
) -> list[StoredRepeat]:
    """The stored repeats of the given days or hours."""
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
    return [
        StoredRepeat(str(pipeline_id), period, previous)
        for pipeline_id, period, previous in conn.execute(query)
        if period in wanted
    ]


def one_job_rows(
    conn: Connection, org_id: str, selection: Selection, definition_key: str
) -> list[StoredJob]:
    """The stored rows of one job (of the selection's one pipeline) the selection names,
    period by period: a job page's series. Each condition is a range of the primary key
    (org_id, grain, period, branch_scope, pipeline_id, definition_key)."""
    j = job_rollups
    return [
        stored_job(row)
        for condition in selection.conditions(j, org_id)
        for row in conn.execute(
            sa.select(*j.c).where(condition, j.c.definition_key == definition_key)
        )
    ]
