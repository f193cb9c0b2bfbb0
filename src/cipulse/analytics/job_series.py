"""One job's figures per bucket of a window: stored days plus raw pieces.

A job page's series: the job's tallies read once per stored day and hour (its rows of
``job_rollups``, histograms included) and from the raw pieces the read plan leaves (the
window's edges, dirty days, new runs), then added up per bucket; under filters the rollups
do not split by, or by the hour, the job's pipeline's raw rows are read once, by the hour. The
figures of a bucket are ``job_metrics.job_rows``' for its tally: the Jobs page's figures of
the job over that bucket."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.engine import Connection

from cipulse.analytics import pieces, read_plan, rollups
from cipulse.analytics.buckets import Interval, bucket_starts
from cipulse.analytics.job_metrics import JobKey
from cipulse.analytics.questions.shared import bucket_window
from cipulse.analytics.read_plan import RawPart, ReadPlan, served_by_rollups
from cipulse.domain.tallies import Grain, JobTally
from cipulse.domain.window import DAY_MS, HOUR_MS, Window
from cipulse.storage.rollups import figure_reads


def job_buckets(
    conn: Connection, org_id: str, window: Window, job: JobKey, interval: Interval
) -> list[tuple[Window, JobTally]]:
    """Per bucket of the window (empty ones included), the part of the window in it and
    the job's tally there (``window`` names the job's pipeline)."""
    buckets = [
        bucket_window(window, start, interval)
        for start in bucket_starts(window.since_ms, window.until_ms, interval)
    ]
    if interval is Interval.HOUR or not served_by_rollups(window.filters):
        parts = _raw_parts(conn, org_id, window, job)
    else:
        parts = job_parts(conn, org_id, window, job)
    found = []
    for bucket in buckets:
        tally = rollups.new_job_tally()
        for position, part in parts:
            if bucket.since_ms <= position < bucket.until_ms:
                rollups.add_job_tally(tally, part)
        found.append((bucket, tally))
    return found


def _raw_parts(
    conn: Connection, org_id: str, window: Window, job: JobKey
) -> list[tuple[int, JobTally]]:
    """The job's tallies per hour of the window, from one read of its pipeline's raw rows
    (with the window's filters)."""
    found = pieces.raw_pieces_by_hour(conn, org_id, window, [job[0]], with_jobs=True)
    return [(position, piece.jobs[job]) for position, piece in found if job in piece.jobs]


def job_parts(
    conn: Connection, org_id: str, window: Window, job: JobKey
) -> list[tuple[int, JobTally]]:
    """The job's tallies in parts that never overlap, each at its position (the start, in
    ms, of the stored day or hour, or of the raw piece): its stored rows of the window's
    days and hours (dirty ones left out), then the raw pieces of the plan."""
    plan = read_plan.plan(conn, org_id, window, blocks=False)
    if plan is None:
        return []
    found: list[tuple[int, JobTally]] = [
        (row.period * (HOUR_MS if row.grain == Grain.HOUR else DAY_MS), row.tally)
        for row in figure_reads.one_job_rows(conn, org_id, plan.stored(), job[1])
        if row.pipeline_id == job[0]
    ]

    def new_runs(plan: ReadPlan) -> Iterable[tuple[int, rollups.Piece]]:
        return pieces.new_run_pieces(conn, org_id, plan, with_jobs=True).items()

    def raw(part: RawPart, pipeline_ids: list[str] | None) -> list[tuple[int, rollups.Piece]]:
        piece = pieces.raw_piece(conn, org_id, part.window, pipeline_ids, with_jobs=True)
        return [(part.window.since_ms, piece)]

    for position, piece in read_plan.stored_plus_raw(plan, new_runs, raw):
        tally = piece.jobs.get(job)
        if tally is not None:
            found.append((position, tally))
    return found
