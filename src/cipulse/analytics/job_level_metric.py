"""One metric of the jobs directly under their run, over a window.

What a figure of one job metric over every job needs (the waits: ``queue_seconds``),
without the rest of the job figures: the stored rows of jobs at the job level that hold
the metric, the raw parts' jobs directly under their run, and the new runs' jobs, merged
as every engine merges (``read_plan.stored_plus_raw``). Under filters the rollups do not
split by, every value is read raw."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from cipulse.analytics import pieces, read_plan
from cipulse.analytics.read_plan import RawPart, ReadPlan, served_by_rollups
from cipulse.domain.histogram import Histogram
from cipulse.domain.window import Window
from cipulse.storage import analytics_store as store
from cipulse.storage.rollups import figure_reads


def job_level_metric(conn: Connection, org_id: str, window: Window, metric: str) -> Histogram:
    """The histogram of ``metric``'s values over the window's job executions directly under
    their run (every execution that carries it, whatever its status)."""
    merged = Histogram()
    if not served_by_rollups(window.filters):
        return _raw(conn, org_id, window, None, metric)
    plan = read_plan.plan(conn, org_id, window)
    if plan is None:
        return merged

    def stored(plan: ReadPlan) -> list[Histogram]:
        found = [figure_reads.job_level_metric(conn, org_id, plan.stored(), metric)]
        for piece in pieces.new_run_pieces(conn, org_id, plan, with_jobs=True).values():
            found += [
                tally.metrics[metric]
                for tally in piece.jobs.values()
                if (tally.level or "job") == "job" and metric in tally.metrics
            ]
        return found

    def raw(part: RawPart, pipeline_ids: list[str] | None) -> list[Histogram]:
        return [_raw(conn, org_id, part.window, pipeline_ids, metric)]

    for histogram in read_plan.stored_plus_raw(plan, stored, raw):
        merged.merge(histogram)
    return merged


def _raw(
    conn: Connection, org_id: str, window: Window, pipeline_ids: list[str] | None, metric: str
) -> Histogram:
    values = sorted(store.job_level_metric_values(conn, org_id, window, pipeline_ids, metric))
    return Histogram.of(values)
