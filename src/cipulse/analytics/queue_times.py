"""The queue times of the jobs directly under their run, over a window.

What the waits need (``questions/waits.py``), without the rest of the job figures: the
runner rollup's queue histograms (``runner_rollups``, the rows the Runners page and the
Pipelines list read, so the figures add up with theirs; the organisation's rows when no
pipeline is chosen), the new runs' jobs, and for the raw parts only the jobs' queue times,
merged as every engine merges (``read_plan.stored_plus_raw``). Under filters the rollups do
not split by, every value is read raw. Beside them, the running time of the same executions
(every one, waited or not: the window's side of a run's ``time_split``)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Connection

from cipulse.analytics import pieces, read_plan
from cipulse.analytics.read_plan import RawPart, ReadPlan, served_by_rollups
from cipulse.domain.histogram import Histogram
from cipulse.domain.window import Window
from cipulse.storage import analytics_store as store
from cipulse.storage.rollups import runner_rows

#: The job metric every source's queue time is kept as, besides ``jobs.queue_seconds``
#: (``storage/rows.py``).
QUEUE_METRIC = "queue_seconds"


@dataclass(frozen=True, slots=True)
class QueueTimes:
    """The executions' queue times (those that carry one) and their running time (all)."""

    queue: Histogram
    running_seconds: float


def queue_times(conn: Connection, org_id: str, window: Window) -> QueueTimes:
    """The queue times of the window's job executions directly under their run (every
    execution that carries one, whatever its status), and their running time."""
    merged = Histogram()
    if not served_by_rollups(window.filters):
        return _raw(conn, org_id, window, None)
    plan = read_plan.plan(conn, org_id, window, blocks=False)
    if plan is None:
        return QueueTimes(merged, 0.0)

    def stored(plan: ReadPlan) -> list[QueueTimes]:
        selections = [plan.stored()]
        if plan.pipeline_ids is None:  # the organisation's rows where none is stale
            stale_days = read_plan.stale_organisation_days(conn, org_id, plan)
            selections = plan.organisation_rows(stale_days)
        found = [
            QueueTimes(histogram, 0.0)
            for selection in selections
            for _, histogram in runner_rows.queue_histograms(conn, org_id, selection)
        ]
        running = sum(runner_rows.running_seconds(conn, org_id, s) for s in selections)
        found.append(QueueTimes(Histogram(), running))
        for piece in pieces.new_run_pieces(conn, org_id, plan, with_jobs=True).values():
            found += [QueueTimes(t.queue, t.job_seconds) for t in piece.runners.values()]
        return found

    def raw(part: RawPart, pipeline_ids: list[str] | None) -> list[QueueTimes]:
        return [_raw(conn, org_id, part.window, pipeline_ids)]

    running = 0.0
    for found in read_plan.stored_plus_raw(plan, stored, raw):
        merged.merge(found.queue)
        running += found.running_seconds
    return QueueTimes(merged, running)


def _raw(
    conn: Connection, org_id: str, window: Window, pipeline_ids: list[str] | None
) -> QueueTimes:
    return QueueTimes(
        Histogram.of(sorted(store.job_queue_values(conn, org_id, window, pipeline_ids))),
        store.job_running_seconds(conn, org_id, window, pipeline_ids),
    )
