"""New runs added into the stored rollups instead of recomputing them.

New runs added to the stored rollups (``rollup_marks.NEW_RUNS``): a run ingest stored whole
for the first time changes nothing already counted, so its figures are the sum of what was
stored and its own piece. The refresher adds them here, to every stored row that holds its
attempt's start: the pipeline's day (and, for recent days, hour) in each branch scope, the 7-
and 28-day blocks holding that day, and the organisation's rows of each. Its red periods are
marked stale from when the first of these runs ended.

Reads do the same sum on the fly (``window_figures``), so figures are exact before and after,
and a partition ingest keeps writing costs what it gains, not what it holds."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy.engine import Connection

from cipulse.analytics import pieces, rollups
from cipulse.domain.runner_tallies import RunnerKey, RunnerTally, add_runner_tally
from cipulse.domain.tallies import Grain, JobTally, RunTally
from cipulse.domain.window import DAY_MS, HOUR_MS
from cipulse.storage.rollups import figure_reads, figure_writes, runner_rows
from cipulse.storage.rollups.keys import ORG, SCOPE_CODES

if TYPE_CHECKING:
    from cipulse.analytics.refresh_units import Computed

JobKey = tuple[str, str]
#: (grain, period, scope code) → run tallies by pipeline, job tallies by job.
Deltas = dict[tuple[int, int, int], tuple[dict[str, RunTally], dict[JobKey, JobTally]]]
#: The same for the runner tallies (days and hours only: the runner rollup has no blocks).
RunnerDeltas = dict[tuple[int, int, int], dict[RunnerKey, RunnerTally]]


def add(conn: Connection, org_id: str, computed: Computed, now_ms: int) -> None:
    """Add the new runs whose marks ``computed.mark_ids`` names (their attempt ids)."""
    found = pieces.new_runs(conn, org_id, computed.mark_ids, with_jobs=True)
    if not found.attempts:
        return
    first_hourly_ms = rollups.first_hourly_day(now_ms) * DAY_MS
    deltas: Deltas = {}
    runners: RunnerDeltas = {}
    for day, computed_day in found.stored_pieces(first_hourly_ms // DAY_MS).items():
        for branch_scope, piece in computed_day.days.items():
            scope = SCOPE_CODES[branch_scope]
            _add_delta(deltas, (Grain.DAY, day, scope), piece.runs, piece.jobs)
            _add_runners(runners, (Grain.DAY, day, scope), piece)
            for start, hour_piece in computed_day.hours.get(branch_scope, {}).items():
                hour = (Grain.HOUR, start // HOUR_MS, scope)
                _add_delta(deltas, hour, hour_piece.runs, hour_piece.jobs)
                _add_runners(runners, hour, hour_piece)
    _blocks_and_organisation(deltas)
    _organisation_runners(runners)
    out = computed.replacement
    for (grain, period), pipeline_ids in _keys(deltas).items():
        _add_to_stored(conn, org_id, grain, period, pipeline_ids, deltas, out)
        _add_stored_runners(conn, org_id, (grain, period), pipeline_ids, runners, out)
    for attempt in found.attempts:
        if attempt.completed_at_ms is not None:
            computed.red_periods_from(attempt.pipeline_id, attempt.completed_at_ms)


def _add_delta(
    deltas: Deltas,
    key: tuple[int, int, int],
    runs: dict[str, RunTally],
    jobs: dict[JobKey, JobTally],
) -> None:
    into_runs, into_jobs = deltas.setdefault(key, ({}, {}))
    for pipeline_id, tally in runs.items():
        rollups.add_run_tally(into_runs.setdefault(pipeline_id, rollups.new_run_tally()), tally)
    for job_key, job in jobs.items():
        rollups.add_job_tally(into_jobs.setdefault(job_key, rollups.new_job_tally(job.name)), job)


def _add_runners(runners: RunnerDeltas, key: tuple[int, int, int], piece: rollups.Piece) -> None:
    into = runners.setdefault(key, {})
    for runner_key, tally in piece.runners.items():
        add_runner_tally(into.setdefault(runner_key, RunnerTally()), tally)


def _organisation_runners(runners: RunnerDeltas) -> None:
    """Every runner delta added into the organisation's row of its period and label set."""
    for by_runner in runners.values():
        totals: dict[RunnerKey, RunnerTally] = {}
        for (_, label_set), tally in by_runner.items():
            add_runner_tally(totals.setdefault((ORG, label_set), RunnerTally()), tally)
        for runner_key, tally in totals.items():
            add_runner_tally(by_runner.setdefault(runner_key, RunnerTally()), tally)


def _add_stored_runners(
    conn: Connection,
    org_id: str,
    at: tuple[int, int],
    pipeline_ids: Sequence[str],
    runners: RunnerDeltas,
    out: figure_writes.Replacement,
) -> None:
    """The stored runner rows of the period and pipelines (cleared with the others), every
    branch scope, with the deltas added."""
    grain, period = at
    if grain not in (Grain.DAY, Grain.HOUR):
        return  # no runner row is kept for blocks
    for scope in SCOPE_CODES.values():
        found = {
            (row.pipeline_id, row.label_set): row.tally
            for row in runner_rows.runner_rows(conn, org_id, grain, [period], pipeline_ids, scope)
        }
        for key, tally in runners.get((grain, period, scope), {}).items():
            add_runner_tally(found.setdefault(key, RunnerTally()), tally)
        out.add_runners(grain, period, scope, found)


def _blocks_and_organisation(deltas: Deltas) -> None:
    """The days' deltas added into the 7- and 28-day blocks holding them, and every delta
    into the organisation's row of its period."""
    for (grain, period, scope), (runs, jobs) in list(deltas.items()):
        if grain == Grain.DAY:
            for size in rollups.BLOCK_SIZES:
                _add_delta(deltas, (size, rollups.block_of(period, size), scope), runs, jobs)
    for (grain, period, scope), (runs, _) in list(deltas.items()):
        total = rollups.new_run_tally()
        for pipeline_id, tally in runs.items():
            if pipeline_id != ORG:
                rollups.add_run_tally(total, tally)
        _add_delta(deltas, (grain, period, scope), {ORG: total}, {})


def _keys(deltas: Deltas) -> dict[tuple[int, int], list[str]]:
    """The stored rows to rewrite: (grain, period) → pipelines (ORG included)."""
    found: dict[tuple[int, int], set[str]] = defaultdict(set)
    for (grain, period, _), (runs, jobs) in deltas.items():
        found[(grain, period)].update(runs)
        found[(grain, period)].update(pipeline_id for pipeline_id, _ in jobs)
    return {key: sorted(pipeline_ids) for key, pipeline_ids in sorted(found.items())}


def _add_to_stored(
    conn: Connection,
    org_id: str,
    grain: int,
    period: int,
    pipeline_ids: Sequence[str],
    deltas: Deltas,
    out: figure_writes.Replacement,
) -> None:
    """The stored rows of the period and pipelines, every branch scope, with the deltas."""
    out.clear(grain, [period], pipeline_ids, metrics=False, repeats=False)
    for scope in SCOPE_CODES.values():
        runs = {
            row.pipeline_id: row.tally
            for row in figure_reads.run_rows(conn, org_id, grain, [period], pipeline_ids, scope)
        }
        jobs = {
            (row.pipeline_id, row.definition_key): row.tally
            for row in figure_reads.job_rows(conn, org_id, grain, [period], pipeline_ids, scope)
        }
        delta_runs, delta_jobs = deltas.get((grain, period, scope), ({}, {}))
        for pipeline_id, tally in delta_runs.items():
            if sum(tally.by_status.values()):
                rollups.add_run_tally(runs.setdefault(pipeline_id, rollups.new_run_tally()), tally)
        for job_key, job in delta_jobs.items():
            rollups.add_job_tally(jobs.setdefault(job_key, rollups.new_job_tally(job.name)), job)
        out.add_runs(grain, period, scope, runs)
        out.add_jobs(grain, period, scope, jobs)
