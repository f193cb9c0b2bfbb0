"""The custom metrics question: one metric key per bucket, by tag.

Custom metrics (Trunk ``payload.metrics``) over a window: the keys seen, and for one key its
count, sum, mean, p50 and p95 per bucket, optionally grouped by a tag's value."""

from __future__ import annotations

from dataclasses import dataclass

from cipulse.analytics import comparison, custom_metrics, metric_figures
from cipulse.analytics.buckets import Interval, bucket_starts
from cipulse.analytics.custom_metrics import MetricGroup
from cipulse.analytics.questions.shared import bucket_window
from cipulse.analytics.questions.summary import WindowBounds, bounds_of
from cipulse.domain.window import Window
from cipulse.errors import InvalidRequest
from cipulse.storage.database import Database


def metric_keys(database: Database, org_id: str, window: Window) -> dict[str, list[str]]:
    """The metric keys and tag keys seen in the window."""
    with database.read() as conn:
        return metric_figures.known_keys(conn, org_id, window)


def group_tag(group_by: str | None) -> str | None:
    """The tag key of ``group_by`` (``tag:<key>``), or None without one."""
    if not group_by:
        return None
    kind, _, tag = group_by.partition(":")
    if kind != "tag" or not tag:
        raise InvalidRequest("group_by: must be tag:<tag key> (e.g. group_by=tag:runner)")
    return tag


@dataclass(frozen=True, slots=True)
class MetricSeries:
    """One metric key per bucket of a window, a series per group (``group_by``: the tag
    grouped by, as asked); ``partial``, per bucket: still under way."""

    window: WindowBounds
    key: str
    group_by: str | None
    interval: Interval
    groups: list[MetricGroup]
    partial: list[bool]


def custom_metric(
    database: Database,
    org_id: str,
    window: Window,
    key: str,
    group_by: str | None,
    interval: Interval,
    now_ms: int,
) -> MetricSeries:
    """The metric ``key`` per bucket of the window, a series per group."""
    if not key:
        raise InvalidRequest("key: required (see /api/v1/analytics/custom-metrics/keys)")
    tag = group_tag(group_by)
    starts = bucket_starts(window.since_ms, window.until_ms, interval)
    with database.read() as conn:
        buckets = metric_figures.metric_buckets(conn, org_id, window, key, tag, interval)
    return MetricSeries(
        window=bounds_of(window),
        key=key,
        group_by=group_by,
        interval=interval,
        groups=custom_metrics.grouped_series(buckets, starts),
        # Per bucket (as the groups' points): still under way, holding what has happened.
        partial=[
            comparison.is_partial(bucket_window(window, start, interval), now_ms)
            for start in starts
        ],
    )
