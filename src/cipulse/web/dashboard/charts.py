"""The data behind the dashboard's charts, for static/app.js.

The data behind the dashboard's charts, in a small format of our own that
``static/app.js`` turns into ECharts options: ``{"kind", "x", "series": [{"name",
"values", "status"?}], "unit", "partial"?}``: ``partial`` marks the buckets still under way (the
current day or hour holds only what has happened so far). Every chart also renders as a
table for screen readers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cipulse.web.dashboard.rendering import DURATION_UNITS, duration_unit

STATUS_ORDER = ("success", "failure", "timed_out", "cancelled", "skipped", "running", "queued")
AGGREGATIONS = ("mean", "p50", "p95", "sum", "count")


def _chart(
    chart_id: str, title: str, kind: str, unit: str, x: list[str], series: list[dict[str, Any]]
) -> dict[str, Any]:
    return {"id": chart_id, "title": title, "kind": kind, "unit": unit, "x": x, "series": series}


def _runs_by_status(chart_id: str, series: list[dict[str, Any]]) -> dict[str, Any]:
    x = [bucket["start"] for bucket in series]
    present = [
        status
        for status in STATUS_ORDER
        if any(bucket["by_status"].get(status) for bucket in series)
    ]
    return _chart(
        chart_id,
        "Runs by status",
        "stacked",
        "count",
        x,
        [
            {
                "name": status.replace("_", " "),
                "status": status,
                "values": [bucket["by_status"].get(status, 0) for bucket in series],
            }
            for status in present
        ],
    )


def _durations(chart_id: str, series: list[dict[str, Any]]) -> dict[str, Any]:
    """p50 and p95 in one unit (minutes, hours…: the axis names it), so that the axis
    ticks are round numbers of it."""
    x = [bucket["start"] for bucket in series]
    fields = ("p50_duration_seconds", "p95_duration_seconds")
    unit = duration_unit(b[field] for b in series for field in fields)
    per_unit = dict(DURATION_UNITS)[unit]

    def values(field: str) -> list[float | None]:
        return [None if b[field] is None else b[field] / per_unit for b in series]

    return _chart(
        chart_id,
        f"Duration of successful runs ({unit})",
        "line",
        unit,
        x,
        [
            {"name": "p50", "values": values("p50_duration_seconds")},
            {"name": "p95", "values": values("p95_duration_seconds")},
        ],
    )


def _success(chart_id: str, series: list[dict[str, Any]]) -> dict[str, Any]:
    x = [bucket["start"] for bucket in series]
    return _chart(
        chart_id,
        "Success rate",
        "line",
        "ratio",
        x,
        [
            {"name": "success rate", "values": [b["success_rate"] for b in series]},
            {
                "name": "first-attempt success",
                "values": [b["first_attempt_success_rate"] for b in series],
            },
        ],
    )


def _marked(charts: list[dict[str, Any]], series: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The charts with their buckets still under way marked."""
    partial = [bool(bucket.get("partial")) for bucket in series]
    for chart in charts:
        chart["partial"] = partial
    return charts


def overview_charts(series: list[dict[str, Any]]) -> list[dict[str, Any]]:
    x = [bucket["start"] for bucket in series]
    compute = _chart(
        "compute",
        "Compute (h)",
        "bar",
        "h",
        x,
        [{"name": "compute", "values": [b["compute_seconds"] / 3600 for b in series]}],
    )
    return _marked(
        [
            _runs_by_status("runs", series),
            _success("success", series),
            _durations("durations", series),
            compute,
        ],
        series,
    )


def pipeline_charts(series: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return _marked(
        [
            _durations("durations", series),
            _success("success", series),
            _runs_by_status("runs", series),
        ],
        series,
    )


def metric_chart(result: dict[str, Any], aggregation: str) -> dict[str, Any]:
    groups = result["groups"]
    x = [point["start"] for point in groups[0]["points"]] if groups else []
    chart = _chart(
        "metric",
        f"{result['key']} ({aggregation})",
        "line",
        "count" if aggregation == "count" else "value",
        x,
        [
            {
                "name": group["group"] if group["group"] is not None else "(no tag)",
                "values": [point[aggregation] for point in group["points"]],
            }
            for group in groups[:12]
        ],
    )
    chart["partial"] = result.get("partial") or []
    return chart


def metric_table(result: dict[str, Any], aggregation: str) -> list[dict[str, Any]]:
    """Per group: the window's count and the aggregation's range over its buckets."""
    rows = []
    for group in result["groups"]:
        points = [p for p in group["points"] if p["count"]]
        count = sum(p["count"] for p in points)
        total = sum(p["sum"] for p in points)
        values = [p[aggregation] for p in points if p[aggregation] is not None]
        rows.append(
            {
                "group": group["group"],
                "count": count,
                "sum": total,
                "mean": total / count if count else None,
                "low": min(values) if values else None,
                "high": max(values) if values else None,
            }
        )
    rows.sort(key=lambda row: -row["count"])
    return rows


def _depth_first(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The nodes of a job tree, parents before their children, each with its depth."""
    rows: list[dict[str, Any]] = []
    pending = [(node, 0) for node in reversed(jobs)]
    while pending:  # without recursion
        node, depth = pending.pop()
        rows.append({**node, "depth": depth})
        pending.extend((child, depth + 1) for child in reversed(node.get("children") or []))
    return rows


def _instants(rows: list[dict[str, Any]], field: str) -> list[int]:
    return [_ms(row[field]) for row in rows if row.get(field)]


def _bounds(run: dict[str, Any], rows: list[dict[str, Any]]) -> tuple[int, int]:
    """The first and last instant of the chart: the attempt's and its jobs' (ms)."""
    starts, ends = _instants(rows, "started_at"), _instants(rows, "completed_at")
    first = min([*starts, _ms(run["started_at"])] if run.get("started_at") else starts or [0])
    last = max([*ends, *starts, first + 1])
    if run.get("completed_at"):
        last = max(last, _ms(run["completed_at"]))
    return first, last


def _place(row: dict[str, Any], first: int, last: int) -> None:
    """A row's offset and width, as shares of the span from ``first`` to ``last``."""
    span = max(last - first, 1)
    if not row.get("started_at"):
        row["offset"], row["width"] = 0.0, 0.0
        return
    start = _ms(row["started_at"])
    end = _ms(row["completed_at"]) if row.get("completed_at") else None
    row["offset"] = (start - first) / span * 100
    row["width"] = max(((end or last) - start) / span * 100, 0.3)
    row["offset_seconds"] = (start - first) / 1000


def waterfall(run: dict[str, Any]) -> dict[str, Any]:
    """The job tree of an attempt as rows of a Gantt chart: each job's offset and width as
    a share of the attempt's span, depth for indentation."""
    rows = _depth_first(run.get("jobs") or [])
    first, last = _bounds(run, rows)
    for row in rows:
        _place(row, first, last)
    span = max(last - first, 1)
    ticks = [{"at": i * 25, "label": (span * i / 4) / 1000} for i in range(5)]
    return {"rows": rows, "span_seconds": span / 1000, "ticks": ticks}


def _ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def job_charts(series: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A job's charts: its executions by status, its success rate and flaky runs per
    execution, and its p50 and p95 (``web/job_presenters.job_bucket_json``'s buckets)."""
    x = [bucket["start"] for bucket in series]
    executions = _runs_by_status("executions", series)
    executions["title"] = "Executions by status"
    durations = _durations("durations", series)
    durations["title"] = durations["title"].replace("successful runs", "successful executions")
    rates = _chart(
        "rates",
        "Success rate and flaky runs per execution",
        "line",
        "ratio",
        x,
        [
            {"name": "success rate", "values": [b["success_rate"] for b in series]},
            {
                "name": "flaky runs per execution",
                "values": [b["flaky_runs_per_execution"] for b in series],
            },
        ],
    )
    return _marked([executions, rates, durations], series)


#: The x of the charts by UTC hour of day (their ``axis``: the labels are shown as they are).
HOURS_OF_DAY = [f"{hour:02d}:00" for hour in range(24)]
#: The label sets a busy-by-hour chart draws, busiest first (the rest are summed as one).
BUSY_CHART_LABEL_SETS = 6


def busy_by_hour_chart(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Runners busy on an average day, by UTC hour of day, stacked by label set: where
    and when the pools are saturated (the busiest label sets; the others as one series)."""
    ranked = sorted(rows, key=lambda row: -float(row["busy_hours"]))
    series = [
        {"name": row["label_set_name"], "values": list(row["mean_busy_runners_by_hour"])}
        for row in ranked[:BUSY_CHART_LABEL_SETS]
    ]
    rest = ranked[BUSY_CHART_LABEL_SETS:]
    if rest:
        by_hour = [row["mean_busy_runners_by_hour"] for row in rest]
        summed = [sum(float(values[hour]) for values in by_hour) for hour in range(24)]
        series.append({"name": f"{len(rest)} other label sets", "values": summed})
    chart = _chart(
        "busy", "Runners busy by hour of day (UTC)", "stacked", "count", HOURS_OF_DAY, series
    )
    chart["axis"] = "Hour of day (UTC)"
    return chart


def waits_by_hour_chart(hours: list[dict[str, Any]], title: str) -> dict[str, Any]:
    """p50 and p95 wait by the UTC hour of day jobs were queued (``/runners/hours``), in one
    duration unit."""
    fields = ("p50_queue_seconds", "p95_queue_seconds")
    unit = duration_unit(hour[field] for hour in hours for field in fields)
    per_unit = dict(DURATION_UNITS)[unit]

    def values(field: str) -> list[float | None]:
        return [None if hour[field] is None else hour[field] / per_unit for hour in hours]

    chart = _chart(
        "waits",
        f"{title} ({unit})",
        "bar",
        unit,
        [f"{hour['hour']:02d}:00" for hour in hours],
        [
            {"name": "p50 wait", "values": values("p50_queue_seconds")},
            {"name": "p95 wait", "values": values("p95_queue_seconds")},
        ],
    )
    chart["axis"] = "Hour of day (UTC)"
    return chart
