"""A refresh's rows stored in place of the old ones.

Writing what the refresher computed: a ``Replacement`` of the stored rows of some
pipelines and periods (every branch scope), red periods, and the hourly rows that fell past
the horizon. Each is written in one short transaction: the refresher computes outside it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cipulse.domain.compute import LEVELS
from cipulse.domain.histogram import Histogram
from cipulse.domain.runner_tallies import RunnerKey, RunnerTally
from cipulse.domain.tallies import FAILURE_CLASSES, Grain, JobTally, RunTally
from cipulse.storage.dialect import bulk_insert
from cipulse.storage.rollups.keys import FIRST_STATUSES, MetricKey
from cipulse.storage.rollups.runner_rows import rows_of
from cipulse.storage.rollups.stored_rows import encoded_metrics
from cipulse.storage.schema import (
    STATUS_NAMES,
    job_rollups,
    metric_rollups,
    rollup_repeats,
    run_rollups,
    runner_rollups,
)

Row = tuple[Any, ...]


def _encoded(histogram: Histogram) -> str:
    return orjson.dumps(histogram.encode()).decode()


def run_row(org_id: str, grain: int, period: int, pipeline_id: str, t: RunTally, scope: int) -> Row:
    histogram = t.durations
    return (
        org_id,
        grain,
        period,
        pipeline_id,
        *(t.by_status[s] for s in STATUS_NAMES),
        *(t.first_by_status[s] for s in FIRST_STATUSES),
        t.compute_seconds,
        histogram.count,
        histogram.total,
        _encoded(histogram),
        t.decided_runs,
        t.flaky_runs,
        t.retry_compute_seconds,
        scope,
        t.duration_top_bucket,
        *(t.failed_by_class[c] for c in FAILURE_CLASSES),
    )


def job_row(
    org_id: str, grain: int, period: int, key: tuple[str, str], t: JobTally, scope: int
) -> Row:
    histogram = t.durations
    return (
        org_id,
        grain,
        period,
        key[0],
        key[1],
        t.name,
        *(t.by_status[s] for s in STATUS_NAMES),
        histogram.count,
        histogram.total,
        _encoded(histogram),
        t.total_duration_seconds,
        t.exclusive_seconds,
        t.flaky_count,
        t.retry_compute_seconds,
        t.last_flaky_at_ms,
        scope,
        t.duration_top_bucket,
        None if t.level is None else LEVELS.index(t.level),
        t.failures_passed_on_retry,
        encoded_metrics(t.metrics),
        *(t.failed_by_class[c] for c in FAILURE_CLASSES),
    )


@dataclass(slots=True)
class Replacement:
    """Rows to store in place of what some (grain, period, pipelines) held, in every branch
    scope: ``clear`` names what goes, the ``add_*`` methods what comes."""

    org_id: str
    #: (grain, pipeline ids) → the periods whose rows are deleted first (repeats too, unless
    #: in ``repeats_kept``).
    cleared: dict[tuple[int, tuple[str, ...]], set[int]] = field(
        default_factory=lambda: defaultdict(set)
    )
    repeats_kept: set[tuple[int, tuple[str, ...]]] = field(default_factory=set)
    #: The same for custom metrics (kept per day only).
    metrics_cleared: dict[tuple[int, tuple[str, ...]], set[int]] = field(
        default_factory=lambda: defaultdict(set)
    )
    runs: list[Row] = field(default_factory=list)
    jobs: list[Row] = field(default_factory=list)
    repeats: list[Row] = field(default_factory=list)
    metrics: list[Row] = field(default_factory=list)
    runners: list[Row] = field(default_factory=list)

    def clear(
        self,
        grain: int,
        periods: Iterable[int],
        pipeline_ids: Iterable[str],
        *,
        metrics: bool,
        repeats: bool = True,
    ) -> None:
        key = (grain, tuple(sorted(set(pipeline_ids))))
        self.cleared[key].update(periods)
        if metrics:
            self.metrics_cleared[key].update(periods)
        if not repeats:
            self.repeats_kept.add(key)

    def add_runs(self, grain: int, period: int, scope: int, runs: Mapping[str, RunTally]) -> None:
        self.runs += [
            run_row(self.org_id, grain, period, p, tally, scope) for p, tally in runs.items()
        ]

    def add_jobs(
        self, grain: int, period: int, scope: int, jobs: Mapping[tuple[str, str], JobTally]
    ) -> None:
        self.jobs += [
            job_row(self.org_id, grain, period, key, tally, scope) for key, tally in jobs.items()
        ]

    def add_runners(
        self, grain: int, period: int, scope: int, runners: Mapping[RunnerKey, RunnerTally]
    ) -> None:
        self.runners += rows_of(self.org_id, grain, period, scope, runners)

    def add_repeats(
        self, grain: int, period: int, scope: int, repeats: Iterable[tuple[str, str, int]]
    ) -> None:
        self.repeats += [
            (self.org_id, grain, period, pipeline_id, run_key, started, scope)
            for pipeline_id, run_key, started in repeats
        ]

    def add_metrics(
        self, grain: int, period: int, scope: int, histograms: Mapping[MetricKey, Histogram]
    ) -> None:
        self.metrics += [
            (
                self.org_id,
                grain,
                period,
                pipeline_id,
                metric_key,
                tag_key,
                tag_value,
                histogram.count,
                histogram.total,
                _encoded(histogram),
                scope,
            )
            for (pipeline_id, metric_key, tag_key, tag_value), histogram in histograms.items()
        ]

    @property
    def rows(self) -> int:
        return (len(self.runs) + len(self.jobs) + len(self.repeats) + len(self.metrics)) + len(
            self.runners
        )


def store(conn: Connection, replacement: Replacement) -> None:
    """Delete what the replacement clears and insert its rows (in key order: neighbouring
    index pages)."""
    org_id = replacement.org_id
    for tables, cleared in (
        ((run_rollups, job_rollups, rollup_repeats, runner_rollups), replacement.cleared),
        ((metric_rollups,), replacement.metrics_cleared),
    ):
        for (grain, pipeline_ids), periods in sorted(cleared.items()):
            for table in tables:
                if table is rollup_repeats and (grain, pipeline_ids) in replacement.repeats_kept:
                    continue
                conn.execute(
                    sa.delete(table).where(
                        table.c.org_id == org_id,
                        table.c.grain == grain,
                        table.c.period.in_(sorted(periods)),
                        table.c.pipeline_id.in_(pipeline_ids),
                    )
                )
    for table, rows in (
        (run_rollups, replacement.runs),
        (job_rollups, replacement.jobs),
        (rollup_repeats, replacement.repeats),
        (metric_rollups, replacement.metrics),
        (runner_rollups, replacement.runners),
    ):
        bulk_insert(conn, table, sorted(rows, key=lambda row: row[:6]))


def purge_hours(conn: Connection, org_id: str, before_hour: int) -> None:
    """Delete the organisation's hourly rows of the hours before ``before_hour``: reads no
    longer take them (``rollups.hourly_from_ms``)."""
    for table in (run_rollups, job_rollups, rollup_repeats, runner_rollups):
        conn.execute(
            sa.delete(table).where(
                table.c.org_id == org_id, table.c.grain == Grain.HOUR, table.c.period < before_hour
            )
        )
