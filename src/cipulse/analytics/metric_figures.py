"""Custom metrics over a window: stored days plus raw pieces.

Custom metrics over a window, per time bucket and tag value: stored days from the metric
rollups, raw pieces for partial days and dirty partitions (``window_figures.scope``), or
everything from the raw events for hourly buckets and filters the rollups do not split by.

The rollups keep, per metric key, a histogram of all its values and one per value of each
tag of the events carrying them; the group of values whose event lacks the tag is the
difference."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.engine import Connection

from cipulse.analytics import custom_metrics
from cipulse.analytics.buckets import Interval, bucket_start
from cipulse.analytics.window_figures import raw_windows, scope, served_by_rollups
from cipulse.domain.histogram import Histogram
from cipulse.domain.window import DAY_MS, Filters, Window
from cipulse.storage import analytics_store as store
from cipulse.storage import rollup_store

Buckets = dict[int, dict[str | None, Histogram]]


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
    found = scope(conn, org_id, window, blocks=False, hours=False)
    if found is None:
        return {}
    pipeline_ids, span, dirty = found
    parts: list[tuple[int, rollup_store.MetricKey, Histogram]] = []
    selection = _stored(span.days, dirty, pipeline_ids, window.filters)
    parts += [
        (period * DAY_MS, metric, histogram)
        for period, metric, histogram in rollup_store.metric_histograms(
            conn, org_id, selection, key, group_tag
        )
    ]
    for piece_window, piece_pipelines in raw_windows(span, dirty, window.filters):
        events = store.metric_events(
            conn,
            org_id,
            piece_window,
            pipeline_ids if piece_pipelines is None else piece_pipelines,
        )
        parts += [
            (piece_window.since_ms, metric, histogram)
            for metric, histogram in custom_metrics.histograms_of(events).items()
            if metric[1] == key and metric[2] in ("", group_tag or "")
        ]
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


def _stored(
    days: Iterable[int],
    dirty: set[rollup_store.Partition],
    pipeline_ids: list[str] | None,
    filters: Filters,
) -> rollup_store.Selection:
    return rollup_store.Selection(
        blocks=(),
        days=tuple(sorted(days)),
        excluded=frozenset((p, rollup_store.DAY, d) for p, d in dirty),
        pipeline_ids=None if pipeline_ids is None else tuple(pipeline_ids),
        scope=rollup_store.SCOPE_CODES[filters.branch_scope],
    )


def _from_events(
    events: list[custom_metrics.Event], key: str, group_tag: str | None, interval: Interval
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
    """The metric keys in the window, and the tag keys of the events carrying them."""
    metric_keys: set[str] = set()
    tag_keys: set[str] = set()
    served = served_by_rollups(window.filters)
    found = scope(conn, org_id, window, blocks=False, hours=False) if served else None
    if not served:
        events = store.metric_events(conn, org_id, window)
    elif found is None:
        events = []  # the filters leave no pipeline
    else:
        pipeline_ids, span, dirty = found
        metric_keys, tag_keys = rollup_store.metric_keys(
            conn, org_id, _stored(span.days, dirty, pipeline_ids, window.filters)
        )
        events = []
        for piece_window, piece_pipelines in raw_windows(span, dirty, window.filters):
            events += store.metric_events(
                conn,
                org_id,
                piece_window,
                pipeline_ids if piece_pipelines is None else piece_pipelines,
            )
    for _, _, metrics, tags in events:
        metric_keys.update(metrics)
        tag_keys.update(tags or {})
    return {"metrics": sorted(metric_keys), "tags": sorted(tag_keys)}
