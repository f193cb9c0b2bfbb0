"""A window's figures per pipeline (and per job): stored weeks and days from the rollup
tables, plus pieces computed from the raw rows for the partial days at the window's edges
and for the partitions not refreshed yet. Filters the rollups do not split by (branch,
provider, status, actor, triggered_by, tags) make the whole window one raw piece."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.engine import Connection

from cipulse.analytics import pieces, rollups
from cipulse.domain.histogram import Histogram
from cipulse.domain.window import DAY_MS, Filters, Window
from cipulse.storage import analytics_store as store
from cipulse.storage import rollup_store
from cipulse.storage.analytics_store import JobTally, RunTally

JobKey = tuple[str, str]


@dataclass(slots=True)
class Figures:
    runs: dict[str, RunTally] = field(default_factory=dict)  # per pipeline id
    jobs: dict[JobKey, JobTally] = field(default_factory=dict)
    #: Where the stored job tallies came from: their duration histograms are read only for
    #: the jobs that need them (``job_durations``); until then they hold count and sum.
    selection: rollup_store.Selection | None = None
    #: The durations of the jobs in the pieces computed from raw rows.
    raw_job_durations: dict[JobKey, Histogram] = field(default_factory=dict)

    def add(self, piece: rollups.Piece) -> None:
        for pipeline_id, tally in piece.runs.items():
            rollups.add_run_tally(self.runs.setdefault(pipeline_id, rollups.new_run_tally()), tally)
        for key, job in piece.jobs.items():
            rollups.add_job_tally(self.jobs.setdefault(key, rollups.new_job_tally()), job)
            assert isinstance(job.durations, Histogram)
            self.raw_job_durations.setdefault(key, Histogram()).merge(job.durations)

    def total(self) -> RunTally:
        tally = rollups.new_run_tally()
        for pipeline_tally in self.runs.values():
            rollups.add_run_tally(tally, pipeline_tally)
        return tally


def served_by_rollups(filters: Filters) -> bool:
    """Whether the stored rollups (per pipeline) can answer under these filters."""
    return not (
        filters.branch
        or filters.provider
        or filters.statuses
        or filters.actor
        or filters.triggered_by
        or filters.tags
    )


def window_figures(conn: Connection, org_id: str, window: Window, *, with_jobs: bool) -> Figures:
    """The window's figures. With ``with_jobs``, job tallies from storage come without
    their duration histograms: ``job_durations`` adds them for the jobs that need them."""
    figures = Figures()
    if not served_by_rollups(window.filters):
        figures.add(pieces.raw_piece(conn, org_id, window, None, with_jobs=with_jobs))
        return figures
    filters = window.filters
    pipeline_ids: list[str] | None = None
    if filters.repository or filters.pipeline_id or filters.pipeline_name:
        pipeline_ids = store.pipeline_ids_of(conn, org_id, filters)
        if not pipeline_ids:
            return figures
    span = rollups.cover(window.since_ms, window.until_ms)
    all_days = span.all_days
    dirty: set[rollup_store.Partition] = set()
    if all_days:
        dirty = rollup_store.dirty_partitions(conn, org_id, min(all_days), max(all_days) + 1)
        wanted = None if pipeline_ids is None else set(pipeline_ids)
        dirty = {(p, d) for p, d in dirty if d in all_days and (wanted is None or p in wanted)}
    selection = _selection(span, dirty, pipeline_ids)
    for row in rollup_store.selected_run_rows(conn, org_id, selection):
        tally = figures.runs.setdefault(row[3], rollups.new_run_tally())
        rollups.add_run_tally(tally, rollup_store.run_tally_of(row))
    if with_jobs:
        figures.jobs = rollup_store.job_totals(conn, org_id, selection)
        figures.selection = selection
    repeats: list[tuple[str, int]] = [
        (pipeline_id, previous)
        for pipeline_id, day, previous in rollup_store.repeats_in(
            conn, org_id, sorted(all_days), pipeline_ids
        )
        if (pipeline_id, day) not in dirty
    ]
    for since_ms, until_ms in span.edges:
        piece = pieces.raw_piece(
            conn, org_id, Window(since_ms, until_ms), pipeline_ids, with_jobs=with_jobs
        )
        figures.add(piece)
        repeats += [(r.pipeline_id, r.previous_started_at_ms) for r in piece.repeats]
    by_day: dict[int, list[str]] = defaultdict(list)
    for pipeline_id, day in sorted(dirty):
        by_day[day].append(pipeline_id)
    for day, day_pipelines in sorted(by_day.items()):
        piece = pieces.raw_piece(
            conn,
            org_id,
            Window(day * DAY_MS, (day + 1) * DAY_MS),
            day_pipelines,
            with_jobs=with_jobs,
        )
        figures.add(piece)
        repeats += [(r.pipeline_id, r.previous_started_at_ms) for r in piece.repeats]
    # A run decided in several pieces of the window is counted once.
    for pipeline_id, previous in repeats:
        if previous >= window.since_ms and pipeline_id in figures.runs:
            figures.runs[pipeline_id].decided_runs -= 1
    return figures


def _selection(
    span: rollups.Cover, dirty: set[rollup_store.Partition], pipeline_ids: Sequence[str] | None
) -> rollup_store.Selection:
    """The stored rows to read: a pipeline's week holding a dirty day is read day by day
    instead, and dirty days not at all (they are computed from the raw rows)."""
    excluded: set[tuple[str, int, int]] = set()
    extra_days: set[rollup_store.Partition] = set()
    weeks = set(span.weeks)
    for pipeline_id, day in dirty:
        week = rollups.week_of(day)
        if week in weeks:
            excluded.add((pipeline_id, rollup_store.WEEK, week))
            extra_days.update((pipeline_id, d) for d in range(week, week + rollups.WEEK_DAYS))
    extra_days -= dirty
    excluded.update((pipeline_id, rollup_store.DAY, day) for pipeline_id, day in dirty)
    return rollup_store.Selection(
        weeks=span.weeks,
        days=span.days,
        extra_days=frozenset(extra_days),
        excluded=frozenset(excluded),
        pipeline_ids=None if pipeline_ids is None else tuple(pipeline_ids),
    )


def job_durations(conn: Connection, org_id: str, figures: Figures, keys: Sequence[JobKey]) -> None:
    """Complete the duration histograms of the given jobs: stored plus raw pieces'."""
    if figures.selection is None:
        return  # every figure came from the raw rows, histograms included
    stored = rollup_store.job_histograms(conn, org_id, figures.selection, keys)
    for key in keys:
        tally = figures.jobs.get(key)
        if tally is None:
            continue
        durations = Histogram()
        for part in (stored.get(key), figures.raw_job_durations.get(key)):
            if part is not None:
                durations.merge(part)
        tally.durations = durations
