"""Custom metrics per time bucket: count, sum, mean, p50, p95.

Custom metrics (Trunk ``payload.metrics``): for one metric key, count, sum, mean, p50 and
p95 per time bucket, optionally grouped by the value of a tag."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cipulse.analytics.run_metrics import percentile_of
from cipulse.domain.histogram import Histogram

#: (started_at_ms, pipeline id, metrics, tags) of a run attempt or job-tree node.
Event = tuple[int, str, dict[str, Any], dict[str, Any] | None]
#: (pipeline id, metric key, tag key or '' for all the metric's values, tag value or '')
MetricKey = tuple[str, str, str, str]


def histograms_of(events: Sequence[Event]) -> dict[MetricKey, Histogram]:
    """Per pipeline and metric key, a histogram of all its values and one per tag value of
    the event carrying them (what the rollups store)."""
    found: dict[MetricKey, Histogram] = {}
    for _, pipeline_id, metrics, tags in events:
        for key, value in metrics.items():
            number = float(value)
            targets = [(pipeline_id, key, "", "")]
            targets += [
                (pipeline_id, key, t_key, str(t_value)) for t_key, t_value in (tags or {}).items()
            ]
            for target in targets:
                histogram = found.get(target)
                if histogram is None:
                    histogram = found[target] = Histogram()
                histogram.add(number)
    return found


def histogram_aggregate(histogram: Histogram | None) -> dict[str, Any]:
    if histogram is None or not histogram.count:
        return {"count": 0, "sum": 0.0, "mean": None, "p50": None, "p95": None}
    return {
        "count": histogram.count,
        "sum": histogram.total,
        "mean": histogram.mean(),
        "p50": percentile_of(histogram, 50),
        "p95": percentile_of(histogram, 95),
    }


def grouped_series(
    buckets: dict[int, dict[str | None, Histogram]], starts: Sequence[int]
) -> list[dict[str, Any]]:
    """Series per group from histograms per bucket start and group, empty buckets included:
    the groups in order, the one for values without the tag (None) last."""
    groups = sorted(
        {group for by_group in buckets.values() for group, h in by_group.items() if h.count},
        key=lambda group: (group is None, group or ""),
    )
    return [
        {
            "group": group,
            "points": [
                {"start": start, **histogram_aggregate(buckets.get(start, {}).get(group))}
                for start in starts
            ],
        }
        for group in groups
    ]
