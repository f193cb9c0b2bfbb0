"""The series question: one figure per hour, day or week of a window.

Every run metric per UTC bucket of a window (the dashboard's charts), or one metric, MTTR
included (``/analytics/timeseries``), empty buckets included."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cipulse.analytics import comparison, recovery, run_metrics, window_figures
from cipulse.analytics.buckets import Interval, bucket_starts
from cipulse.analytics.definitions import SERIES_METRICS
from cipulse.analytics.questions.shared import bucket_window
from cipulse.analytics.questions.summary import WindowBounds, bounds_of
from cipulse.analytics.read_plan import hourly, served_by_rollups
from cipulse.analytics.run_metrics import RunFigures
from cipulse.analytics.window_figures import Figures, pipeline_figures
from cipulse.domain.window import Window
from cipulse.errors import InvalidRequest
from cipulse.storage.database import Database


@dataclass(frozen=True, slots=True)
class SeriesBucket:
    """Every run figure of one bucket; ``partial``: the bucket is still under way."""

    start_ms: int
    partial: bool
    figures: RunFigures


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """One figure of one bucket (None: nothing to compute it from)."""

    start_ms: int
    value: Any
    partial: bool


@dataclass(frozen=True, slots=True)
class Timeseries:
    """One figure per bucket of a window, empty buckets included."""

    window: WindowBounds
    metric: str
    interval: Interval
    points: list[SeriesPoint]


def timeseries(
    database: Database, org_id: str, window: Window, metric: str, interval: Interval, now_ms: int
) -> Timeseries:
    """One metric per UTC bucket of the window, empty buckets included."""
    if metric not in SERIES_METRICS:
        raise InvalidRequest("metric: must be one of " + ", ".join(SERIES_METRICS))
    if metric == "mttr_seconds":
        points = mttr_series(database, org_id, window, interval, now_ms)
    else:
        points = [
            SeriesPoint(bucket.start_ms, bucket.figures.figure(metric), bucket.partial)
            for bucket in run_series(database, org_id, window, interval, now_ms)
        ]
    return Timeseries(bounds_of(window), metric, interval, points)


def run_series(
    database: Database, org_id: str, window: Window, interval: Interval, now_ms: int
) -> list[SeriesBucket]:
    """Every run metric per UTC bucket of the window (``start``, ``partial``: whether the
    bucket is still under way, and the metrics), empty buckets included."""
    buckets = []
    with database.read() as conn:
        # Days and weeks add up stored days, recent hours stored hours; older hours, and
        # filters the rollups do not split by, are read from the raw rows bucket by bucket.
        parts = None
        by_hour = interval is Interval.HOUR
        if served_by_rollups(window.filters) and (not by_hour or hourly(window)):
            parts = window_figures.run_series(conn, org_id, window, by_hour=by_hour)
        for start in bucket_starts(window.since_ms, window.until_ms, interval):
            bucket = bucket_window(window, start, interval)
            if parts is not None:
                figures = Figures(runs=parts.tallies(bucket.since_ms, bucket.until_ms))
            else:
                figures = pipeline_figures(conn, org_id, bucket)
            metrics = run_metrics.metrics_of(bucket, figures.total())
            partial = comparison.is_partial(bucket, now_ms)
            buckets.append(SeriesBucket(start, partial, metrics))
    return buckets


def mttr_series(
    database: Database, org_id: str, window: Window, interval: Interval, now_ms: int
) -> list[SeriesPoint]:
    """The mean length of the red periods that ended in each bucket."""
    with database.read() as conn:
        ended = recovery.recovery_in(conn, org_id, window, limit=None).ended
    points = []
    for start in bucket_starts(window.since_ms, window.until_ms, interval):
        bucket = bucket_window(window, start, interval)
        lengths = [
            p.seconds or 0.0
            for p in ended
            if bucket.since_ms <= (p.ended_at_ms or 0) < bucket.until_ms
        ]
        mean = sum(lengths) / len(lengths) if lengths else None
        partial = comparison.is_partial(bucket, now_ms)
        points.append(SeriesPoint(start, mean, partial))
    return points
