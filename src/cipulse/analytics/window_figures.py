"""A window's figures: stored blocks and days plus raw edges.

A window's figures per pipeline (and per job): stored blocks and days from the rollup
tables (of the window's branch scope), plus pieces computed from the raw rows for the partial
days at the window's edges and for the partitions not refreshed yet. Filters the rollups do
not split by (branch, provider, status, actor, triggered_by, tags) make the whole window one
raw piece."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import TypeVar

from sqlalchemy.engine import Connection

from cipulse.analytics import pieces, read_plan, rollups
from cipulse.analytics.read_plan import RawPart, ReadPlan, served_by_rollups
from cipulse.analytics.run_metrics import percentile_of
from cipulse.domain.histogram import Histogram, upper_edge
from cipulse.domain.tallies import Grain, JobTally, RunTally
from cipulse.domain.window import DAY_MS, HOUR_MS, Window
from cipulse.storage.rollups import figure_reads, keys

JobKey = tuple[str, str]


@dataclass(slots=True)
class Figures:
    #: Per pipeline id, or organisation-wide under ``keys.ORG``.
    runs: dict[str, RunTally] = field(default_factory=dict)
    jobs: dict[JobKey, JobTally] = field(default_factory=dict)
    #: Where the stored job tallies came from: their duration histograms and metric
    #: aggregates are read only for the jobs that need them (``complete_jobs``); until then
    #: they hold the durations' count and sum, and no metrics.
    selection: figure_reads.Selection | None = None
    #: The durations of the jobs, and of the runs per pipeline, in the pieces computed from
    #: raw rows; the jobs' metric aggregates there.
    raw_job_durations: dict[JobKey, Histogram] = field(default_factory=dict)
    raw_job_metrics: dict[JobKey, dict[str, Histogram]] = field(default_factory=dict)
    raw_run_durations: dict[str, Histogram] = field(default_factory=dict)
    #: Where the stored run tallies came from, when they were read without their duration
    #: histograms (``run_durations`` adds them for the pipelines that need them).
    run_selection: figure_reads.Selection | None = None

    def add(self, piece: rollups.Piece) -> None:
        """Add a raw piece's job tallies (its run tallies go through ``Parts``; their
        durations are kept here too)."""
        for pipeline_id, run in piece.runs.items():
            self.raw_run_durations.setdefault(pipeline_id, Histogram()).merge(run.durations)
        for key, job in piece.jobs.items():
            tally = self.jobs.setdefault(key, rollups.new_job_tally())
            rollups.add_job_tally(tally, job)
            self.raw_job_durations.setdefault(key, Histogram()).merge(job.durations)
            raw_metrics = self.raw_job_metrics.setdefault(key, {})
            for name, values in job.metrics.items():
                raw_metrics.setdefault(name, Histogram()).merge(values)
            if self.selection is not None:
                # The stored half is not read yet: no metric is known until ``complete_jobs``.
                tally.metrics = {}

    def total(self) -> RunTally:
        tally = rollups.new_run_tally()
        for pipeline_tally in self.runs.values():
            rollups.add_run_tally(tally, pipeline_tally)
        return tally


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
                owner = found.get(pipeline_id) or found.get(keys.ORG)
                if owner is not None:
                    owner.decided_runs -= 1
        return found


class Runs(Enum):
    """Which run figures a read wants."""

    NONE = "none"
    #: Per pipeline, with their duration histograms.
    PER_PIPELINE = "per pipeline"
    #: Per pipeline, summed by the database: counts and sums, no histograms
    #: (``run_durations`` completes them for the pipelines that need them).
    COUNTS = "counts"
    #: Organisation-wide rows where no partition is dirty (fewer rows), with histograms.
    ORGANISATION = "organisation"


@dataclass(frozen=True, slots=True)
class Reading:
    """What one of the named reads below wants of a window: its run figures, job figures
    or not, the cover's 7- and 28-day blocks or days only, and every part within one hour
    (hourly series)."""

    runs: Runs
    jobs: bool = False
    blocks: bool = True
    by_hour: bool = False


def run_totals(conn: Connection, org_id: str, window: Window) -> Figures:
    """The window's run figures, possibly as one organisation-wide tally under ``ORG``
    (a summary: ``Figures.total()``)."""
    return _figures(conn, org_id, window, Reading(Runs.ORGANISATION))


def pipeline_figures(
    conn: Connection, org_id: str, window: Window, *, histograms: bool = True
) -> Figures:
    """The window's run figures per pipeline; without ``histograms`` counts and sums only
    (``run_durations`` completes the durations of the pipelines that need them)."""
    return _figures(conn, org_id, window, Reading(Runs.PER_PIPELINE if histograms else Runs.COUNTS))


def job_figures(conn: Connection, org_id: str, window: Window) -> Figures:
    """The window's job figures, per (pipeline, job): stored tallies without their duration
    histograms and metric aggregates (``complete_jobs`` reads them for the jobs that need
    them). Under a team filter, the jobs of the team (``Filters.owns_job``)."""
    f = window.filters
    if f.team_job_pipelines is not None:
        window = replace(window, filters=replace(f, team_pipelines=f.team_job_pipelines))
    figures = _figures(conn, org_id, window, Reading(Runs.NONE, jobs=True))
    if f.team is not None and f.team_job_rules:
        figures.jobs = {k: t for k, t in figures.jobs.items() if f.owns_job(k[0], t.name)}
    return figures


def run_series(conn: Connection, org_id: str, window: Window, *, by_hour: bool) -> Parts:
    """The window's run figures in parts (stored days and hours, raw pieces) that a series
    adds up bucket by bucket (``Parts.tallies``); ``by_hour``: every part within one hour
    (a window inside the hourly horizon: ``read_plan.hourly``)."""
    return _read(conn, org_id, window, Reading(Runs.ORGANISATION, blocks=False, by_hour=by_hour))[0]


def _figures(conn: Connection, org_id: str, window: Window, reading: Reading) -> Figures:
    parts, figures = _read(conn, org_id, window, reading)
    figures.runs = parts.tallies(window.since_ms, window.until_ms)
    return figures


def _read(conn: Connection, org_id: str, window: Window, reading: Reading) -> tuple[Parts, Figures]:
    """The window's parts (run tallies by position) and its job figures: stored rows and
    raw pieces as the read plan says, or one raw piece under filters the rollups do not
    split by."""
    parts, figures = Parts(), Figures()
    if not served_by_rollups(window.filters):
        piece = pieces.raw_piece(conn, org_id, window, None, with_jobs=reading.jobs)
        parts.add_piece(window.since_ms, piece)
        figures.add(piece)
        return parts, figures
    plan = read_plan.plan(conn, org_id, window, blocks=reading.blocks, by_hour=reading.by_hour)
    if plan is None:
        return parts, figures
    _read_stored(conn, org_id, plan, reading, parts, figures)

    def new_runs(plan: ReadPlan) -> Iterable[tuple[int, rollups.Piece]]:
        return pieces.new_run_pieces(conn, org_id, plan, with_jobs=reading.jobs).items()

    def raw(part: RawPart, pipeline_ids: list[str] | None) -> list[tuple[int, rollups.Piece]]:
        if reading.by_hour:
            return pieces.raw_pieces_by_hour(
                conn, org_id, part.window, pipeline_ids, with_jobs=reading.jobs
            )
        piece = pieces.raw_piece(conn, org_id, part.window, pipeline_ids, with_jobs=reading.jobs)
        return [(part.window.since_ms, piece)]

    for position, piece in read_plan.stored_plus_raw(plan, new_runs, raw):
        parts.add_piece(position, piece)
        figures.add(piece)
    return parts, figures


def _read_stored(
    conn: Connection,
    org_id: str,
    plan: ReadPlan,
    reading: Reading,
    parts: Parts,
    figures: Figures,
) -> None:
    """The stored rows the plan reads: run tallies into ``parts`` (as ``reading.runs``
    says), job tallies without histograms into ``figures``, and the repeats."""
    selection = plan.stored()
    if reading.runs is Runs.COUNTS:
        figures.run_selection = selection
        for pipeline_id, tally in figure_reads.run_totals(conn, org_id, selection).items():
            parts.add_run(plan.window.since_ms, pipeline_id, tally)
    elif reading.runs is not Runs.NONE:
        selections = [selection]
        if reading.runs is Runs.ORGANISATION and plan.pipeline_ids is None:
            stale_days = read_plan.stale_organisation_days(conn, org_id, plan)
            selections = plan.organisation_rows(stale_days)
        for chosen in selections:
            for row in figure_reads.selected_run_rows(conn, org_id, chosen):
                parts.add_run(_position(row.grain, row.period), row.pipeline_id, row.tally)
    if reading.jobs:
        figures.jobs = figure_reads.job_totals(conn, org_id, selection)
        figures.selection = selection
    parts.repeats += _stored_repeats(conn, org_id, plan)


def _stored_repeats(conn: Connection, org_id: str, plan: ReadPlan) -> list[tuple[int, str, int]]:
    """The stored repeats of the plan's days and hours (position, pipeline, earlier start)
    but those of dirty partitions (their raw pieces hold their own)."""
    found = []
    for grain, periods in (
        (Grain.DAY, sorted(plan.cover.stored_days)),
        (Grain.HOUR, list(plan.cover.hours)),
    ):
        for repeat in figure_reads.repeats_in(
            conn, org_id, grain, periods, plan.pipeline_ids, plan.scope_code
        ):
            position = _position(grain, repeat.period)
            if (repeat.pipeline_id, position // DAY_MS) not in plan.dirty:
                found.append((position, repeat.pipeline_id, repeat.previous_started_at_ms))
    return found


def _position(grain: int, period: int) -> int:
    """Where a stored period starts, in epoch ms."""
    return period * (HOUR_MS if grain == Grain.HOUR else DAY_MS)


def top_by_duration(
    conn: Connection, org_id: str, figures: Figures, percentile: float, count: int
) -> list[JobKey]:
    """The jobs that may be among the ``count`` with the highest ``percentile`` duration,
    with their histograms complete (``_top_by_bound``)."""

    def read(chunk: list[JobKey]) -> None:
        complete_jobs(conn, org_id, figures, chunk)

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
    for row in figure_reads.selected_run_rows(conn, org_id, selection):
        if row.pipeline_id not in complete:  # a day of another pipeline (its block is stale)
            continue
        complete[row.pipeline_id].merge(row.tally.durations)
    for pipeline_id, durations in complete.items():
        tally = figures.runs.get(pipeline_id)
        if tally is not None:
            tally.durations = durations


def complete_jobs(conn: Connection, org_id: str, figures: Figures, keys: Sequence[JobKey]) -> None:
    """Complete the given jobs' tallies with what the stored sums leave out: their duration
    histograms and metric aggregates, stored plus raw pieces'."""
    if figures.selection is None:
        return  # every figure came from the raw rows, histograms included
    stored = figure_reads.job_details(conn, org_id, figures.selection, keys)
    for key in keys:
        tally = figures.jobs.get(key)
        if tally is None:
            continue
        durations = Histogram()
        metrics: dict[str, Histogram] = {}
        parts = [(figures.raw_job_durations.get(key), figures.raw_job_metrics.get(key, {}))]
        if key in stored:
            parts.insert(0, stored[key])
        for part_durations, part_metrics in parts:
            durations.merged(part_durations)
            for name, values in part_metrics.items():
                metrics.setdefault(name, Histogram()).merge(values)
        tally.durations, tally.metrics = durations, metrics
