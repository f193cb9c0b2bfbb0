"""Custom metrics over a window: stored days plus raw pieces.

Custom metrics over a window, per time bucket and tag value: stored days from the metric
rollups, raw pieces for partial days and dirty partitions (``read_plan``), or
everything from the raw events for hourly buckets and filters the rollups do not split by.

The rollups keep, per metric key, a histogram of all its values and one per value of each
tag of the events carrying them; the group of values whose event lacks the tag is the
difference."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from sqlalchemy.engine import Connection

from cipulse.analytics import custom_metrics, read_plan
from cipulse.analytics.buckets import Interval, bucket_start
from cipulse.analytics.read_plan import RawPart, ReadPlan, served_by_rollups
from cipulse.domain.histogram import Histogram
from cipulse.domain.window import DAY_MS, Window
from cipulse.storage import analytics_store as store
from cipulse.storage.rollups import keys, metric_rollups

Buckets = dict[int, dict[str | None, Histogram]]
#: A histogram of the values of one metric key (and tag value) in a stored day or raw piece,
#: at the start of that day or piece.
Part = tuple[int, keys.MetricKey, Histogram]


def metric_buckets(
    conn: Connection,
    org_id: str,
    window: Window,
    key: str,
    group_tag: str | None,
    interval: Interval,
) -> Buckets:
    """Per bucket start, per group (tag value; None without the tag, or when not grouping),
    the histogram of the metric's values."""
    if interval is Interval.HOUR or not served_by_rollups(window.filters):
        return _from_events(store.metric_events(conn, org_id, window), key, group_tag, interval)
    plan = read_plan.plan(conn, org_id, window, blocks=False, hours=False)
    if plan is None:
        return {}

    def stored(plan: ReadPlan) -> list[Part]:
        rows = metric_rollups.metric_histograms(conn, org_id, plan.stored_days(), key, group_tag)
        return [(row.period * DAY_MS, row.key, row.histogram) for row in rows]

    def raw(part: RawPart, pipeline_ids: list[str] | None) -> list[Part]:
        events = store.metric_events(conn, org_id, part.window, pipeline_ids)
        return [
            (part.window.since_ms, metric, histogram)
            for metric, histogram in custom_metrics.histograms_of(events).items()
            if metric[1] == key and metric[2] in ("", group_tag or "")
        ]

    return _bucketed(read_plan.stored_plus_raw(plan, stored, raw), group_tag, interval)


def _bucketed(parts: list[Part], group_tag: str | None, interval: Interval) -> Buckets:
    """The parts' histograms added up per bucket (and group): a metric's values without the
    tag are its total less those of every tag value."""
    totals: dict[int, Histogram] = {}
    grouped: Buckets = {}
    for position, (_, _, tag_key, tag_value), histogram in parts:
        start = bucket_start(position, interval)
        if tag_key == "":
            totals.setdefault(start, Histogram()).merge(histogram)
        else:
            grouped.setdefault(start, {}).setdefault(tag_value, Histogram()).merge(histogram)
    buckets: Buckets = {}
    for start, total in totals.items():
        by_group = grouped.get(start, {})
        untagged = Histogram()
        untagged.merge(total)
        for histogram in by_group.values():
            untagged.subtract(histogram)
        buckets[start] = {**by_group, None: untagged} if group_tag else {None: total}
    return buckets


def _from_events(
    events: Sequence[store.MetricEvent], key: str, group_tag: str | None, interval: Interval
) -> Buckets:
    buckets: Buckets = {}
    for started_at_ms, _, metrics, tags in events:
        if key not in metrics:
            continue
        group = None
        if group_tag is not None and tags and group_tag in tags:
            group = str(tags[group_tag])
        by_group = buckets.setdefault(bucket_start(started_at_ms, interval), {})
        by_group.setdefault(group, Histogram()).add(float(metrics[key]))
    return buckets


def known_keys(conn: Connection, org_id: str, window: Window) -> dict[str, list[str]]:
    """The metric keys seen on the window's UTC days, and the tag keys of the events
    carrying them. Whole days: the stored days hold them (a window cut within days, such
    as the last 24 hours, would otherwise read every metric of its edges raw: 0.3 s on
    200,000 runs), and a key seen on an edge day but outside the window only offers a
    choice whose series is empty."""
    metric_keys: set[str] = set()
    tag_keys: set[str] = set()
    events: list[store.MetricEvent] = []
    if not served_by_rollups(window.filters):
        events = store.metric_events(conn, org_id, window)
    else:
        days = replace(
            window,
            since_ms=window.since_ms // DAY_MS * DAY_MS,
            until_ms=-(-window.until_ms // DAY_MS) * DAY_MS,
        )
        plan = read_plan.plan(conn, org_id, days, blocks=False, hours=False)
        if plan is not None:  # None: the filters leave no pipeline

            def stored(plan: ReadPlan) -> list[store.MetricEvent]:
                found = metric_rollups.metric_keys(conn, org_id, plan.stored_days())
                metric_keys.update(found[0])
                tag_keys.update(found[1])
                return []

            def raw(part: RawPart, pipeline_ids: list[str] | None) -> list[store.MetricEvent]:
                return store.metric_events(conn, org_id, part.window, pipeline_ids)

            events = read_plan.stored_plus_raw(plan, stored, raw)
    for event in events:
        metric_keys.update(event.metrics)
        tag_keys.update(event.tags or {})
    return {"metrics": sorted(metric_keys), "tags": sorted(tag_keys)}
