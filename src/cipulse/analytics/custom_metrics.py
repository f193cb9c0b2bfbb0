"""Custom metrics (Trunk ``payload.metrics``): for one metric key, count, sum, mean, p50 and
p95 per time bucket, optionally grouped by the value of a tag."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from cipulse.analytics.buckets import Interval, bucket_start
from cipulse.analytics.run_metrics import nearest_rank

Row = tuple[int, dict[str, Any] | None, dict[str, Any] | None]
NO_TAG = None


def known_keys(rows: Sequence[Row]) -> dict[str, list[str]]:
    metric_keys: set[str] = set()
    tag_keys: set[str] = set()
    for _, metrics, tags in rows:
        metric_keys.update(metrics or {})
        tag_keys.update(tags or {})
    return {"metrics": sorted(metric_keys), "tags": sorted(tag_keys)}


def aggregate(values: list[float]) -> dict[str, Any]:
    ordered = sorted(values)
    return {
        "count": len(ordered),
        "sum": sum(ordered),
        "mean": sum(ordered) / len(ordered) if ordered else None,
        "p50": nearest_rank(ordered, 50),
        "p95": nearest_rank(ordered, 95),
    }


def series(
    rows: Sequence[Row],
    key: str,
    starts: Sequence[int],
    interval: Interval,
    group_tag: str | None,
) -> list[dict[str, Any]]:
    """Per group (the tag's value as text; ``None`` for rows without the tag, or when not
    grouping) the aggregates of every bucket, empty buckets included."""
    values: dict[str | None, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for started_at_ms, metrics, tags in rows:
        if not metrics or key not in metrics or started_at_ms is None:
            continue
        group = NO_TAG
        if group_tag is not None and tags and group_tag in tags:
            group = str(tags[group_tag])
        values[group][bucket_start(started_at_ms, interval)].append(float(metrics[key]))
    return [
        {
            "group": group,
            "points": [{"start": start, **aggregate(buckets.get(start, []))} for start in starts],
        }
        for group, buckets in sorted(
            values.items(), key=lambda item: (item[0] is None, item[0] or "")
        )
    ]
