"""Stored runner tallies: written as ``runner_rollups`` rows and read back.

A ``RunnerTally`` (domain/runner_tallies.py) is one row per (grain, period, branch scope,
pipeline, label set); reads take the rows a ``figure_reads.Selection`` names (days and
recent hours: the runner rollup keeps no blocks), or those of some periods."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cipulse.domain.histogram import Histogram
from cipulse.domain.runner_tallies import RunnerKey, RunnerTally
from cipulse.domain.tallies import FAILURE_CLASSES, Grain
from cipulse.storage.dialect import column_names
from cipulse.storage.rollups.figure_reads import Selection
from cipulse.storage.rollups.stored_rows import counter_of, decoded_metrics, encoded_metrics
from cipulse.storage.schema import STATUS_NAMES, runner_rollups

Row = tuple[Any, ...]
_AT = {name: index for index, name in enumerate(column_names(runner_rollups))}


class StoredRunner(NamedTuple):
    """A ``runner_rollups`` row: its period, pipeline, label set and tally."""

    grain: int
    period: int
    pipeline_id: str
    label_set: str
    tally: RunnerTally


def _encoded(histogram: Histogram) -> str:
    return orjson.dumps(histogram.encode()).decode()


def runner_row(
    org_id: str, grain: int, period: int, scope: int, key: RunnerKey, t: RunnerTally
) -> Row:
    """The row of a tally, in ``runner_rollups``' column order."""
    values: dict[str, Any] = {
        "org_id": org_id,
        "grain": grain,
        "period": period,
        "branch_scope": scope,
        "pipeline_id": key[0],
        "label_set": key[1],
        **{f"n_{s}": t.by_status[s] for s in STATUS_NAMES},
        **{f"failed_{c}": t.failed_by_class[c] for c in FAILURE_CLASSES},
        "duration_count": t.durations.count,
        "duration_sum": t.durations.total,
        "duration_histogram": _encoded(t.durations),
        "queue_count": t.queue.count,
        "queue_sum": t.queue.total,
        "queue_histogram": _encoded(t.queue),
        "queue_by_hour": encoded_metrics({str(h): v for h, v in t.queue_by_hour.items()}),
        "busy_seconds": orjson.dumps(t.busy_seconds).decode(),
        "job_seconds": t.job_seconds,
        "billable_minutes": t.billable_minutes,
        "waste_job_seconds": t.waste_job_seconds,
        "waste_billable_minutes": t.waste_billable_minutes,
    }
    return tuple(values[name] for name in _AT)


def rows_of(
    org_id: str, grain: int, period: int, scope: int, runners: Mapping[RunnerKey, RunnerTally]
) -> list[Row]:
    return [runner_row(org_id, grain, period, scope, k, t) for k, t in runners.items()]


def _histogram(encoded: str, count: int, total: float) -> Histogram:
    histogram = Histogram()
    histogram.merge_encoded(orjson.loads(encoded), count, total)
    return histogram


def stored_runner(row: Sequence[Any]) -> StoredRunner:
    """A row of ``select(*runner_rollups.c)``, named."""

    def at(name: str) -> Any:
        return row[_AT[name]]

    tally = RunnerTally(
        by_status=counter_of([at(f"n_{s}") for s in STATUS_NAMES], STATUS_NAMES),
        failed_by_class=counter_of([at(f"failed_{c}") for c in FAILURE_CLASSES], FAILURE_CLASSES),
        durations=_histogram(at("duration_histogram"), at("duration_count"), at("duration_sum")),
        queue=_histogram(at("queue_histogram"), at("queue_count"), at("queue_sum")),
        queue_by_hour={int(h): v for h, v in decoded_metrics(at("queue_by_hour")).items()},
        busy_seconds=[float(v) for v in orjson.loads(at("busy_seconds"))],
        job_seconds=float(at("job_seconds")),
        billable_minutes=int(at("billable_minutes")),
        waste_job_seconds=float(at("waste_job_seconds")),
        waste_billable_minutes=int(at("waste_billable_minutes")),
    )
    return StoredRunner(at("grain"), at("period"), str(at("pipeline_id")), at("label_set"), tally)


def selected_runners(conn: Connection, org_id: str, selection: Selection) -> list[StoredRunner]:
    """The rows the selection names (its days and hours; it holds no blocks here)."""
    found: list[StoredRunner] = []
    for condition in selection.conditions(runner_rollups, org_id):
        query = sa.select(*runner_rollups.c).where(condition)
        found += [stored_runner(row) for row in conn.execute(query)]
    return found


def runner_rows(
    conn: Connection,
    org_id: str,
    grain: int,
    periods: Sequence[int],
    pipeline_ids: Sequence[str] | None,
    scope: int,
) -> list[StoredRunner]:
    """The stored rows of some periods of one grain (day or hour) and pipelines (None:
    every pipeline's, not the organisation's)."""
    selection = Selection.of_periods(grain, periods, pipeline_ids, scope)
    return selected_runners(conn, org_id, selection)


class BilledRow(NamedTuple):
    """Billed time of some ``runner_rollups`` rows of one pipeline, label set and rate
    span (``day``: the day standing for the span, ``domain/window_costs.span_of``): how
    many executions, their seconds and minutes, and the waste's."""

    pipeline_id: str
    label_set: str
    day: int
    jobs: int
    job_seconds: float
    billable_minutes: int
    waste_job_seconds: float
    waste_billable_minutes: int


def _span_day(spans: Sequence[int]) -> sa.ColumnElement[Any]:
    """A row's rate span, as ``window_costs.span_of`` names it, from its first hour (an
    hour row's period, a day row's times 24): integer literals (the spans are the rate
    card's days, never a client's text), so the same expression groups on PostgreSQL."""
    r = runner_rollups
    if not spans:
        return sa.literal_column("0")
    hour = sa.case((r.c.grain == Grain.HOUR, r.c.period), else_=r.c.period * 24)
    firsts = [spans[0] - 1, *spans]
    return sa.case(
        *(
            (hour < sa.literal_column(str(int(bound) * 24)), sa.literal_column(str(int(first))))
            for bound, first in zip(spans, firsts, strict=False)
        ),
        else_=sa.literal_column(str(int(spans[-1]))),
    )


def billed_rows(
    conn: Connection, org_id: str, selection: Selection, spans: Sequence[int]
) -> list[BilledRow]:
    """The billed time of the rows the selection names, summed by the database per
    pipeline, label set and rate span (``spans``: their first days, sorted): one row per
    pipeline and label set in a window without a rate change, however many days it holds."""
    r = runner_rollups
    jobs = sum((r.c[f"n_{s}"] for s in STATUS_NAMES[1:]), r.c[f"n_{STATUS_NAMES[0]}"])
    span = _span_day(spans).label("span_day")
    columns = (
        r.c.pipeline_id,
        r.c.label_set,
        span,
        sa.func.sum(jobs),
        sa.func.sum(r.c.job_seconds),
        sa.func.sum(r.c.billable_minutes),
        sa.func.sum(r.c.waste_job_seconds),
        sa.func.sum(r.c.waste_billable_minutes),
    )
    found: list[BilledRow] = []
    for condition in selection.conditions(r, org_id):
        # Without a rate, one span (a constant): grouping by it would name a column by number.
        by = (r.c.pipeline_id, r.c.label_set, *((span,) if spans else ()))
        query = sa.select(*columns).where(condition).group_by(*by)
        for row in conn.execute(query):
            found.append(
                BilledRow(
                    str(row[0]),
                    row[1],
                    int(row[2]),
                    int(row[3]),
                    float(row[4]),
                    int(row[5]),
                    float(row[6]),
                    int(row[7]),
                )
            )
    return found


def queue_histograms(
    conn: Connection, org_id: str, selection: Selection
) -> list[tuple[str, Histogram]]:
    """(pipeline id, queue histogram) of the rows the selection names: the waits alone, so
    a pipeline list decodes one small column per row."""
    r = runner_rollups
    found: list[tuple[str, Histogram]] = []
    for condition in selection.conditions(r, org_id):
        query = sa.select(r.c.pipeline_id, r.c.queue_histogram, r.c.queue_count, r.c.queue_sum)
        for pipeline_id, encoded, count, total in conn.execute(query.where(condition)):
            if count:
                found.append((str(pipeline_id), _histogram(encoded, count, total)))
    return found


def running_seconds(conn: Connection, org_id: str, selection: Selection) -> float:
    """The executions' running time (``job_seconds``) of the rows the selection names,
    summed by the database."""
    r = runner_rollups
    total = 0.0
    for condition in selection.conditions(r, org_id):
        query = sa.select(sa.func.sum(r.c.job_seconds)).where(condition)
        total += float(conn.execute(query).scalar() or 0.0)
    return total
