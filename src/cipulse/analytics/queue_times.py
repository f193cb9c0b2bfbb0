"""The queue times of the jobs directly under their run, over a window.

What the waits need (``questions/waits.py``), without the rest of the job figures: the
runner rollup's queue histograms (``runner_rollups``, the rows the Runners page and the
Pipelines list read, so the figures add up with theirs; the organisation's rows when no
pipeline is chosen), the new runs' jobs, and for the raw parts only the jobs' queue times,
merged as every engine merges (``read_plan.stored_plus_raw``). Under filters the rollups do
not split by, every value is read raw."""

from __future__ import annotations

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


def queue_times(conn: Connection, org_id: str, window: Window) -> Histogram:
    """The histogram of the queue times of the window's job executions directly under
    their run (every execution that carries one, whatever its status)."""
    merged = Histogram()
    if not served_by_rollups(window.filters):
        return _raw(conn, org_id, window, None)
    plan = read_plan.plan(conn, org_id, window, blocks=False)
    if plan is None:
        return merged

    def stored(plan: ReadPlan) -> list[Histogram]:
        selections = [plan.stored()]
        if plan.pipeline_ids is None:  # the organisation's rows where none is stale
            stale_days = read_plan.stale_organisation_days(conn, org_id, plan)
            selections = plan.organisation_rows(stale_days)
        found = [
            histogram
            for selection in selections
            for _, histogram in runner_rows.queue_histograms(conn, org_id, selection)
        ]
        for piece in pieces.new_run_pieces(conn, org_id, plan, with_jobs=True).values():
            found += [tally.queue for tally in piece.runners.values()]
        return found

    def raw(part: RawPart, pipeline_ids: list[str] | None) -> list[Histogram]:
        return [_raw(conn, org_id, part.window, pipeline_ids)]

    for histogram in read_plan.stored_plus_raw(plan, stored, raw):
        merged.merge(histogram)
    return merged


def _raw(
    conn: Connection, org_id: str, window: Window, pipeline_ids: list[str] | None
) -> Histogram:
    return Histogram.of(sorted(store.job_queue_values(conn, org_id, window, pipeline_ids)))
