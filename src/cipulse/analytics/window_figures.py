"""A window's figures: stored blocks and days plus raw edges.

A window's figures per pipeline (and per job): stored blocks and days from the rollup
tables (of the window's branch scope), plus pieces computed from the raw rows for the partial
days at the window's edges and for the partitions not refreshed yet. Filters the rollups do
not split by (branch, provider, status, actor, triggered_by, tags) make the whole window one
raw piece."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TypeVar

from sqlalchemy.engine import Connection

from cipulse.analytics import pieces, rollups
from cipulse.analytics.run_metrics import percentile_of
from cipulse.domain.histogram import Histogram, upper_edge
from cipulse.domain.window import DAY_MS, HOUR_MS, Filters, Window
from cipulse.storage import analytics_store as store
from cipulse.storage import rollup_marks, rollup_store
from cipulse.storage.analytics_store import JobTally, RunTally
from cipulse.storage.clock import now_ms

JobKey = tuple[str, str]


@dataclass(slots=True)
class Figures:
    #: Per pipeline id, or organisation-wide under ``rollup_store.ORG``.
    runs: dict[str, RunTally] = field(default_factory=dict)
    jobs: dict[JobKey, JobTally] = field(default_factory=dict)
    #: Where the stored job tallies came from: their duration histograms are read only for
    #: the jobs that need them (``job_durations``); until then they hold count and sum.
    selection: rollup_store.Selection | None = None
    #: The durations of the jobs, and of the runs per pipeline, in the pieces computed from
    #: raw rows.
    raw_job_durations: dict[JobKey, Histogram] = field(default_factory=dict)
    raw_run_durations: dict[str, Histogram] = field(default_factory=dict)
    #: Where the stored run tallies came from, when they were read without their duration
    #: histograms (``run_durations`` adds them for the pipelines that need them).
    run_selection: rollup_store.Selection | None = None

    def add(self, piece: rollups.Piece) -> None:
        """Add a raw piece's job tallies (its run tallies go through ``Parts``; their
        durations are kept here too)."""
        for pipeline_id, run in piece.runs.items():
            assert isinstance(run.durations, Histogram)
            self.raw_run_durations.setdefault(pipeline_id, Histogram()).merge(run.durations)
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
    """Whether the stored rollups (per pipeline and branch scope) can answer under these
    filters."""
    return not (
        filters.branch
        or filters.provider
        or filters.statuses
        or filters.actor
        or filters.triggered_by
        or filters.tags
    )


@dataclass(slots=True)
class Parts:
    """A window's figures before they are added up: run tallies per position (the start,
    in ms, of the stored period or raw piece they cover) and pipeline (or ``ORG``), and the
    repeats (position, pipeline, earlier decided start) to subtract."""

    runs: dict[tuple[int, str], RunTally] = field(default_factory=dict)
    repeats: list[tuple[int, str, int]] = field(default_factory=list)

    def add_run(self, position: int, pipeline_id: str, tally: RunTally) -> None:
        """Add a tally of its own (the parts keep it: it must not be shared)."""
        into = self.runs.get((position, pipeline_id))
        if into is None:
            self.runs[(position, pipeline_id)] = tally
        else:
            rollups.add_run_tally(into, tally)

    def add_piece(self, position: int, piece: rollups.Piece) -> None:
        for pipeline_id, tally in piece.runs.items():
            self.add_run(position, pipeline_id, tally)
        self.repeats += [(position, r.pipeline_id, r.previous_started_at_ms) for r in piece.repeats]

    def tallies(self, since_ms: int, until_ms: int) -> dict[str, RunTally]:
        """Per pipeline (or ``ORG``), the parts in ``[since_ms, until_ms)``, each run decided
        in several of them counted once."""
        found: dict[str, RunTally] = {}
        for (position, pipeline_id), tally in self.runs.items():
            if since_ms <= position < until_ms:
                rollups.add_run_tally(found.setdefault(pipeline_id, rollups.new_run_tally()), tally)
        for position, pipeline_id, previous in self.repeats:
            if since_ms <= position < until_ms and previous >= since_ms:
                owner = found.get(pipeline_id) or found.get(rollup_store.ORG)
                if owner is not None:
                    owner.decided_runs -= 1
        return found


def window_figures(
    conn: Connection,
    org_id: str,
    window: Window,
    *,
    with_jobs: bool,
    per_pipeline: bool = True,
    with_runs: bool = True,
    run_histograms: bool = True,
) -> Figures:
    """The window's figures, per pipeline (or, without ``per_pipeline``, possibly as one
    organisation-wide tally under ``ORG``: fewer rows to read). With ``with_jobs``, job
    tallies from storage come without their duration histograms: ``job_durations`` adds
    them for the jobs that need them; so do run tallies without ``run_histograms``
    (``run_durations``)."""
    figures = Figures()
    parts = collect(
        conn,
        org_id,
        window,
        figures,
        blocks=True,
        per_pipeline=per_pipeline,
        with_jobs=with_jobs,
        with_runs=with_runs,
        run_histograms=run_histograms,
    )
    figures.runs = parts.tallies(window.since_ms, window.until_ms)
    return figures


def collect(
    conn: Connection,
    org_id: str,
    window: Window,
    figures: Figures,
    *,
    blocks: bool,
    per_pipeline: bool,
    with_jobs: bool = False,
    with_runs: bool = True,
    by_hour: bool = False,
    run_histograms: bool = True,
) -> Parts:
    """The parts of the window (stored 28- and 7-day blocks when ``blocks``, stored days and
    hours, raw pieces; the stored run rows only ``with_runs``); job tallies go straight into
    ``figures``. ``by_hour`` (a window inside the hourly horizon: ``hourly``): every part
    within one hour, for hourly series. Without ``run_histograms``, the stored run figures
    come as one part per pipeline at the window's start (counts only)."""
    parts = Parts()
    if not served_by_rollups(window.filters):
        piece = pieces.raw_piece(conn, org_id, window, None, with_jobs=with_jobs)
        parts.add_piece(window.since_ms, piece)
        figures.add(piece)
        return parts
    found = scope(conn, org_id, window, blocks=blocks, by_hour=by_hour)
    if found is None:
        return parts
    pipeline_ids, span, dirty = found
    stored_scope = rollup_store.SCOPE_CODES[window.filters.branch_scope]
    selection = _selection(span, dirty, pipeline_ids, stored_scope)
    if per_pipeline or pipeline_ids is not None:
        selections = [selection]
    else:
        selections = _org_selections(span, dirty, stored_scope, _stale_org_days(conn, org_id, span))
    if not run_histograms:
        # Whole-window totals per pipeline, summed by the database (for window_figures).
        figures.run_selection = selection
        for chosen in selections if with_runs else []:
            for pipeline_id, tally in rollup_store.run_totals(conn, org_id, chosen).items():
                parts.add_run(window.since_ms, pipeline_id, tally)
    for chosen in selections if with_runs and run_histograms else []:
        for row in rollup_store.selected_run_rows(conn, org_id, chosen):
            tally = rollup_store.run_tally_of(row)
            parts.add_run(_position(row[1], row[2]), row[3], tally)
    if with_jobs:
        figures.jobs = rollup_store.job_totals(conn, org_id, selection)
        figures.selection = selection
    for grain, periods in (
        (rollup_store.DAY, sorted(span.stored_days)),
        (rollup_store.HOUR, list(span.hours)),
    ):
        parts.repeats += [
            (_position(grain, period), pipeline_id, previous)
            for pipeline_id, period, previous in rollup_store.repeats_in(
                conn, org_id, grain, periods, pipeline_ids, stored_scope
            )
            if (pipeline_id, _position(grain, period) // DAY_MS) not in dirty
        ]
    new_runs = _new_runs(conn, org_id, span, dirty, pipeline_ids, window, with_jobs=with_jobs)
    for position, piece in new_runs.items():
        parts.add_piece(position, piece)
        figures.add(piece)
    for piece_window, piece_pipelines in raw_windows(span, dirty, window.filters):
        chosen_pipelines = pipeline_ids if piece_pipelines is None else piece_pipelines
        if by_hour:
            found_pieces = pieces.raw_pieces_by_hour(
                conn, org_id, piece_window, chosen_pipelines, with_jobs=with_jobs
            )
        else:
            piece = pieces.raw_piece(
                conn, org_id, piece_window, chosen_pipelines, with_jobs=with_jobs
            )
            found_pieces = [(piece_window.since_ms, piece)]
        for position, piece in found_pieces:
            parts.add_piece(position, piece)
            figures.add(piece)
    return parts


def _new_runs(
    conn: Connection,
    org_id: str,
    span: rollups.Cover,
    dirty: set[rollup_store.Partition],
    pipeline_ids: Sequence[str] | None,
    window: Window,
    *,
    with_jobs: bool,
) -> dict[int, rollups.Piece]:
    """The pieces of the new runs (``rollup_marks.NEW_RUNS``) that the stored periods of the
    cover do not hold yet, by the position of their stored day or hour. Those of dirty
    partitions, and those at the raw edges, are in the raw pieces already."""
    stored_days, hours = span.stored_days, set(span.hours)
    if not stored_days and not hours:
        return {}
    days = stored_days | span.hour_days
    marks = rollup_marks.new_run_marks(conn, org_id, min(days), max(days) + 1)
    wanted = None if pipeline_ids is None else set(pipeline_ids)
    attempt_ids = [
        attempt_id
        for (pipeline_id, day), ids in marks.items()
        if day in days
        and (pipeline_id, day) not in dirty
        and (wanted is None or pipeline_id in wanted)
        for attempt_id in ids
    ]
    if not attempt_ids:
        return {}

    def position_of(started_ms: int) -> int | None:
        if started_ms // DAY_MS in stored_days:
            return started_ms // DAY_MS * DAY_MS
        if started_ms // HOUR_MS in hours:
            return started_ms // HOUR_MS * HOUR_MS
        return None

    found = pieces.new_runs(conn, org_id, attempt_ids, with_jobs=with_jobs)
    return found.pieces(window.filters.branch_scope, position_of)


def _position(grain: int, period: int) -> int:
    """Where a stored period starts, in epoch ms."""
    return period * (HOUR_MS if grain == rollup_store.HOUR else DAY_MS)


def hourly(window: Window) -> bool:
    """Whether the window lies where the rollups keep hours: an hourly series may read them."""
    return window.since_ms >= rollups.hourly_from_ms(now_ms())


def scope(
    conn: Connection,
    org_id: str,
    window: Window,
    *,
    blocks: bool,
    hours: bool = True,
    by_hour: bool = False,
) -> tuple[list[str] | None, rollups.Cover, set[rollup_store.Partition]] | None:
    """What a window served by the rollups reads: its pipelines (None: all; None returned
    when the filters leave none), its cover (with blocks only when ``blocks``; with hours
    only when ``hours``; all hours when ``by_hour``), and its dirty partitions."""
    filters = window.filters
    pipeline_ids: list[str] | None = None
    if filters.repository or filters.pipeline_id or filters.pipeline_name:
        pipeline_ids = store.pipeline_ids_of(conn, org_id, filters)
        if not pipeline_ids:
            return None
    if by_hour:
        span = rollups.hour_cover(window.since_ms, window.until_ms)
    else:
        hours_from = rollups.hourly_from_ms(now_ms()) if hours else None
        span = rollups.cover(window.since_ms, window.until_ms, hours_from_ms=hours_from)
    if not blocks:
        span = rollups.Cover((), tuple(sorted(span.stored_days)), span.edges, span.hours)
    all_days = span.all_days
    dirty: set[rollup_store.Partition] = set()
    if all_days:
        dirty = rollup_marks.dirty_partitions(conn, org_id, min(all_days), max(all_days) + 1)
        wanted = None if pipeline_ids is None else set(pipeline_ids)
        dirty = {(p, d) for p, d in dirty if d in all_days and (wanted is None or p in wanted)}
    return pipeline_ids, span, dirty


def raw_windows(
    span: rollups.Cover, dirty: set[rollup_store.Partition], filters: Filters
) -> list[tuple[Window, list[str] | None]]:
    """The pieces read from the raw rows: what the stored periods leave at the edges (of the
    window's pipelines: None) and, per day, the dirty partitions' pipelines over the day (or
    over its whole hours the cover holds); each with the window's branch scope (its other
    filters the rollups serve choose the pipelines)."""
    scoped = Filters(branch_scope=filters.branch_scope)
    found: list[tuple[Window, list[str] | None]] = [
        (Window(since_ms, until_ms, scoped), None) for since_ms, until_ms in span.edges
    ]
    by_day: dict[int, list[str]] = defaultdict(list)
    for pipeline_id, day in sorted(dirty):
        by_day[day].append(pipeline_id)
    hour_days = span.hour_days
    for day, day_pipelines in sorted(by_day.items()):
        if day in hour_days:
            first, end = span.hours_of(day)
            found.append((Window(first * HOUR_MS, end * HOUR_MS, scoped), day_pipelines))
        else:
            found.append((Window(day * DAY_MS, (day + 1) * DAY_MS, scoped), day_pipelines))
    return found


def _stale_org_days(conn: Connection, org_id: str, span: rollups.Cover) -> set[int]:
    all_days = span.all_days
    if not all_days:
        return set()
    return rollup_marks.stale_organisation_days(conn, org_id, min(all_days), max(all_days) + 1)


def _org_selections(
    span: rollups.Cover, dirty: set[rollup_store.Partition], scope: int, stale_days: set[int]
) -> list[rollup_store.Selection]:
    """The organisation-wide rows of the periods without a dirty day (nor stale
    organisation rows), and the pipelines' rows of the days (and hours) with one (minus the
    dirty partitions)."""
    dirty_days = {day for _, day in dirty} | stale_days
    clean_blocks = tuple(
        (size, start)
        for size, start in span.blocks
        if not any(start + i in dirty_days for i in range(size))
    )
    days = set(span.days) | {
        start + i
        for size, start in span.blocks
        if (size, start) not in clean_blocks
        for i in range(size)
    }
    clean_hours = tuple(
        (rollup_store.HOUR, hour)
        for hour in span.hours
        if hour * HOUR_MS // DAY_MS not in dirty_days
    )
    dirty_hours = tuple(
        (rollup_store.HOUR, hour) for hour in span.hours if hour * HOUR_MS // DAY_MS in dirty_days
    )
    org_rows = rollup_store.Selection(
        blocks=clean_blocks + clean_hours,
        days=tuple(sorted(days - dirty_days)),
        pipeline_ids=(rollup_store.ORG,),
        scope=scope,
    )
    pipeline_rows = rollup_store.Selection(
        blocks=dirty_hours,
        days=tuple(sorted(days & dirty_days)),
        excluded=frozenset((p, rollup_store.DAY, d) for p, d in dirty),
        excluded_hours=_stale_hours(span, dirty),
        scope=scope,
    )
    return [org_rows, pipeline_rows]


def _stale_hours(
    span: rollups.Cover, dirty: set[rollup_store.Partition]
) -> frozenset[tuple[str, int, int]]:
    """The hours of the cover in dirty partitions: (pipeline id, first hour, end)."""
    hour_days = span.hour_days
    return frozenset(
        (pipeline_id, *span.hours_of(day)) for pipeline_id, day in dirty if day in hour_days
    )


def _selection(
    span: rollups.Cover,
    dirty: set[rollup_store.Partition],
    pipeline_ids: Sequence[str] | None,
    scope: int,
) -> rollup_store.Selection:
    """The stored rows to read: a pipeline's block holding a dirty day is read day by day
    instead, and dirty days (and their hours) not at all (they are computed from the raw
    rows)."""
    excluded: set[tuple[str, int, int]] = set()
    extra_days: set[rollup_store.Partition] = set()
    block_of_day = {start + i: (size, start) for size, start in span.blocks for i in range(size)}
    for pipeline_id, day in dirty:
        block = block_of_day.get(day)
        if block is not None:
            size, start = block
            excluded.add((pipeline_id, size, start))
            extra_days.update((pipeline_id, d) for d in range(start, start + size))
    extra_days -= dirty
    excluded.update((pipeline_id, rollup_store.DAY, day) for pipeline_id, day in dirty)
    return rollup_store.Selection(
        blocks=span.blocks + tuple((rollup_store.HOUR, hour) for hour in span.hours),
        days=span.days,
        extra_days=frozenset(extra_days),
        excluded=frozenset(excluded),
        pipeline_ids=None if pipeline_ids is None else tuple(pipeline_ids),
        scope=scope,
        excluded_hours=_stale_hours(span, dirty),
    )


def top_by_duration(
    conn: Connection, org_id: str, figures: Figures, percentile: float, count: int
) -> list[JobKey]:
    """The jobs that may be among the ``count`` with the highest ``percentile`` duration,
    with their histograms complete (``_top_by_bound``)."""

    def read(chunk: list[JobKey]) -> None:
        job_durations(conn, org_id, figures, chunk)

    return _top_by_bound(figures.jobs, percentile, count, read)


def top_pipelines_by_duration(
    conn: Connection, org_id: str, figures: Figures, percentile: float, count: int
) -> list[str]:
    """``top_by_duration`` for the pipelines of run tallies read without histograms."""

    def read(chunk: list[str]) -> None:
        run_durations(conn, org_id, figures, chunk)

    return _top_by_bound(figures.runs, percentile, count, read)


K = TypeVar("K", str, JobKey)


def _top_by_bound(
    tallies: Mapping[K, RunTally | JobTally],
    percentile: float,
    count: int,
    read: Callable[[list[K]], None],
) -> list[K]:
    """The keys that may be among the ``count`` with the highest ``percentile`` duration,
    after ``read`` completed their histograms; every key with a duration when fewer.
    Histograms are read in rounds, keys by the upper edge of their top bucket (no percentile
    exceeds it), until no key left unread can reach the count-th value found: ties included,
    so the keys' order is the one reading every histogram would give."""
    bound = {
        key: upper_edge(tally.duration_top_bucket)
        for key, tally in tallies.items()
        if tally.duration_top_bucket is not None
    }
    candidates = sorted(bound, key=lambda key: (-bound[key], key))
    found: dict[K, float] = {}
    start, batch = 0, max(count, 32)
    while start < len(candidates):
        chunk = candidates[start : start + batch]
        start += len(chunk)
        read(chunk)
        for key in chunk:
            value = percentile_of(tallies[key].durations, percentile)
            if value is not None:
                found[key] = value
        if len(found) >= count and start < len(candidates):
            threshold = sorted(found.values(), reverse=True)[count - 1]
            if bound[candidates[start]] < threshold:
                break
        batch *= 2
    return list(found)


def run_durations(
    conn: Connection, org_id: str, figures: Figures, pipeline_ids: Sequence[str]
) -> None:
    """Complete the duration histograms of the given pipelines' run tallies: stored plus
    raw pieces'."""
    if figures.run_selection is None:
        return
    complete = {
        pipeline_id: Histogram().merged(figures.raw_run_durations.get(pipeline_id))
        for pipeline_id in pipeline_ids
    }
    selection = replace(figures.run_selection, pipeline_ids=tuple(pipeline_ids))
    for row in rollup_store.selected_run_rows(conn, org_id, selection):
        if row[3] not in complete:  # a day read for another pipeline (its block is stale)
            continue
        stored = rollup_store.run_tally_of(row).durations
        assert isinstance(stored, Histogram)
        complete[row[3]].merge(stored)
    for pipeline_id, durations in complete.items():
        tally = figures.runs.get(pipeline_id)
        if tally is not None:
            tally.durations = durations


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
