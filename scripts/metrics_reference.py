"""Generate ``docs/metrics.md`` from the registry of metric definitions, so the documented
definitions are the implemented ones word for word.

    python scripts/metrics_reference.py          # rewrite docs/metrics.md
    python scripts/metrics_reference.py --check  # exit 1 if it is out of date (tests do this)
"""

from __future__ import annotations

from pathlib import Path

from generated_docs import write_or_check

from cipulse.analytics.definitions import (
    JOB_METRICS,
    RECOVERY_METRICS,
    RUN_METRICS,
    MetricDefinition,
)

REFERENCE = Path(__file__).resolve().parents[1] / "docs" / "metrics.md"
HEADER = """# Metric definitions

Generated from `src/cipulse/analytics/definitions.py` by `scripts/metrics_reference.py`; a test
fails when this page and the code disagree. The read API serves the same list at
`GET /api/v1/analytics/definitions`.

## The unit, the window and the filters

The unit is a **run attempt** (one execution of a pipeline: run id + attempt number). A **run**
is a pipeline plus a run id (RunWatch `run_id`, Trunk `chainId`) with all its attempts.

The window `[since, until)` applies to the attempt's `started_at`; the default is the 30 days
before the request. Filters narrow the attempts: `repository` (owner/name, any letter case),
`pipeline` (its id or its name), `branch`, `provider`, `status` (comma-separated), `actor`,
`triggered_by`, and, for Trunk data, `tag=key:value` (repeatable; all must match). Every metric
below is computed over the attempts that are in the window and pass the filters, except where
its definition reaches for other attempts of the same runs (retries may cross the window's
edge).

Each summary also carries `previous`: the same metrics for the window of equal length just
before, with the same filters.

## Run metrics

| Metric | Unit | Definition |
|---|---|---|
"""


RECOVERY_HEADER = """
## Recovery

| Metric | Unit | Definition |
|---|---|---|
"""

JOB_HEADER = """
## Jobs

| Metric | Unit | Definition |
|---|---|---|
"""

SERIES_TEXT = """
## Time series

`GET /api/v1/analytics/timeseries?metric=…&interval=hour|day|week` computes one metric per UTC
bucket (hours; days; weeks from Monday 00:00 UTC), over the attempts that started in the bucket
(clipped to the window), with the same definitions as above; buckets without attempts are
present (their counts are 0, their ratios and durations null). `mttr_seconds` per bucket is the
mean length of the red periods that ended in the bucket.

## Custom metrics

Trunk events carry metrics (`payload.metrics`, `{k, v: number}`) and tags. For one metric key,
`GET /api/v1/analytics/custom-metrics?key=…&interval=…` aggregates the values of that key carried
by the run attempts that started in the window and pass the filters, and by their job-tree nodes
whose own start is in the window: per UTC bucket, `count`, `sum`, `mean`, `p50` and `p95`
(nearest rank), empty buckets included. With `group_by=tag:<key>` there is one series per value
of that tag on the same event (the event's tags merged with its sequence's), and one (`group`:
null) for values whose event has no such tag. Nodes whose run has not arrived are not counted.
`GET /api/v1/analytics/custom-metrics/keys` lists the metric and tag keys seen in the window.
"""


def _table(metrics: tuple[MetricDefinition, ...]) -> str:
    rows = [f"| `{m.name}` | {m.unit} | {m.definition} |" for m in metrics]
    return "\n".join(rows) + "\n"


def render() -> str:
    sections = [
        HEADER,
        _table(RUN_METRICS),
        RECOVERY_HEADER,
        _table(RECOVERY_METRICS),
        JOB_HEADER,
        _table(JOB_METRICS),
        SERIES_TEXT,
    ]
    return "".join(sections)


def main() -> int:
    return write_or_check(REFERENCE, render(), "metrics_reference.py")


if __name__ == "__main__":
    raise SystemExit(main())
