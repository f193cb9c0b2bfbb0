"""Custom metrics per time bucket: count, sum, mean, p50, p95.

Custom metrics (Trunk ``payload.metrics``): for one metric key, count, sum, mean, p50 and
p95 per time bucket, optionally grouped by the value of a tag."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class MetricPoint:
    """A metric's values in one bucket: how many, their sum, mean, p50 and p95 (None:
    no value)."""

    start_ms: int
    count: int
    sum: float
    mean: float | None
    p50: float | None
    p95: float | None


@dataclass(frozen=True, slots=True)
class MetricGroup:
    """A metric's series for one value of the grouping tag (None: values without it, or
    every value when not grouped)."""

    group: str | None
    points: list[MetricPoint]


def point_of(start_ms: int, histogram: Histogram | None) -> MetricPoint:
    if histogram is None or not histogram.count:
        return MetricPoint(start_ms, 0, 0.0, None, None, None)
    return MetricPoint(
        start_ms,
        histogram.count,
        histogram.total,
        histogram.mean(),
        percentile_of(histogram, 50),
        percentile_of(histogram, 95),
    )


def grouped_series(
    buckets: dict[int, dict[str | None, Histogram]], starts: Sequence[int]
) -> list[MetricGroup]:
    """Series per group from histograms per bucket start and group, empty buckets included:
    the groups in order, the one for values without the tag (None) last."""
    groups = sorted(
        {group for by_group in buckets.values() for group, h in by_group.items() if h.count},
        key=lambda group: (group is None, group or ""),
    )
    return [
        MetricGroup(group, [point_of(start, buckets.get(start, {}).get(group)) for start in starts])
        for group in groups
    ]
