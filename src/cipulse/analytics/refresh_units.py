"""One bounded refresher unit: computed from a snapshot, then stored.

The rollup refresher's work, one bounded *unit* at a time. A unit is computed from one
consistent snapshot of the database, holding no write lock, and then stored in one short
write transaction that also removes exactly the marks that snapshot saw (a mark added
meanwhile stays, and its partition is refreshed again later).

Three kinds of unit, after the kinds of marks (``storage/rollups/marks.py``):

- **figures**: some pipelines' marked days within one week. The days' rows (and, for recent
  days, their hours') in every branch scope, and the 7- and 28-day blocks holding them: a
  block adds up its stored days (or weeks), with the days just computed in place of the
  stored ones. Then it marks the organisation's rows of those days and the pipelines' red
  periods from those days on, for the units below.
- **organisation days**: the organisation-wide rows of some days (and recent days' hours),
  each the sum of its pipelines' stored rows.
- **red periods**: some pipelines' red periods, recomputed from their earliest marked day.

Red periods and organisation rows are units of their own so that a bulk refresh computes
them once per pipeline or day, however many of its partitions changed: its time grows with
the runs, not with their square."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from sqlalchemy.engine import Connection

from cipulse.analytics import added_runs, pieces, recovery, rollups
from cipulse.domain.runner_tallies import RunnerTally, add_runner_tally
from cipulse.domain.tallies import Grain, JobTally, RunTally
from cipulse.domain.window import DAY_MS, HOUR_MS
from cipulse.storage.rollups import figure_reads, figure_writes, red_periods, runner_rows
from cipulse.storage.rollups import marks as rollup_marks
from cipulse.storage.rollups import set_aside as rollup_failures
from cipulse.storage.rollups.keys import ORG, SCOPE_CODES
from cipulse.storage.rollups.marks import FIGURES, NEW_RUNS, ORGANISATION_DAY, Marked

JobKey = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Unit:
    """Marked partitions of one organisation and kind, refreshed together."""

    org_id: str
    kind: int
    partitions: tuple[Marked, ...]

    @property
    def days(self) -> dict[int, list[str]]:
        """The unit's pipelines by day."""
        found: dict[int, list[str]] = defaultdict(list)
        for mark in self.partitions:
            found[mark.day].append(mark.pipeline_id)
        return {day: sorted(pipeline_ids) for day, pipeline_ids in sorted(found.items())}

    def singles(self) -> list[Unit]:
        return [Unit(self.org_id, self.kind, (mark,)) for mark in self.partitions]


@dataclass(slots=True)
class Computed:
    """What a unit comes to: rows to store, red periods to replace, marks to add."""

    mark_ids: list[str]
    replacement: figure_writes.Replacement
    stale_periods: list[str] = field(default_factory=list)
    fresh_periods: list[tuple[str, str | None, int, int | None, int]] = field(default_factory=list)
    #: Follow-ups: the organisation's days to add up again, and from when (ms) the red
    #: periods of pipelines are stale.
    organisation_days: set[int] = field(default_factory=set)
    red_from: dict[str, int] = field(default_factory=dict)

    def red_periods_from(self, pipeline_id: str, from_ms: int) -> None:
        self.red_from[pipeline_id] = min(self.red_from.get(pipeline_id, from_ms), from_ms)


class Superseded(Exception):
    """Another refresher removed some of the unit's marks first: its result is dropped."""


def compute(conn: Connection, unit: Unit, now_ms: int) -> Computed:
    """What the unit comes to, read through ``conn`` (one snapshot)."""
    computed = Computed(
        rollup_marks.mark_ids(conn, unit.partitions), figure_writes.Replacement(unit.org_id)
    )
    if unit.kind == FIGURES:
        _figures(conn, unit, now_ms, computed)
    elif unit.kind == ORGANISATION_DAY:
        _organisation_days(conn, unit, now_ms, computed)
    elif unit.kind == NEW_RUNS:
        added_runs.add(conn, unit.org_id, computed, now_ms)
    else:
        _red_periods(conn, unit, computed)
    return computed


def store(conn: Connection, unit: Unit, computed: Computed, now_ms: int) -> None:
    """Store what ``compute`` found, in the caller's write transaction."""
    removed = rollup_marks.delete_marks(conn, unit.org_id, computed.mark_ids)
    if removed != len(computed.mark_ids):
        raise Superseded(unit)
    figure_writes.store(conn, computed.replacement)
    if computed.stale_periods or computed.fresh_periods:
        red_periods.replace_periods(
            conn, unit.org_id, computed.stale_periods, computed.fresh_periods
        )
    days = [(unit.org_id, ORG, day) for day in sorted(computed.organisation_days)]
    rollup_marks.mark_dirty(conn, days, now_ms, ORGANISATION_DAY)
    reds = [(unit.org_id, p, from_ms) for p, from_ms in sorted(computed.red_from.items())]
    rollup_marks.mark_red_periods(conn, reds, now_ms)
    rollup_failures.clear_failures(conn, unit.partitions)


# --- Figures -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FreshPeriod:
    """The figures a unit computed for some pipelines over one period and branch scope
    (``pipeline_ids``: every pipeline computed, with runs in it or not)."""

    pipeline_ids: frozenset[str]
    runs: dict[str, RunTally]
    jobs: dict[JobKey, JobTally]


#: By (grain, period, scope).
Fresh = dict[tuple[int, int, int], FreshPeriod]


def _figures(conn: Connection, unit: Unit, now_ms: int, computed: Computed) -> None:
    out = computed.replacement
    fresh: Fresh = {}
    days = unit.days
    computed_days = pieces.stored_pieces(conn, unit.org_id, days, rollups.first_hourly_day(now_ms))
    for day, pipeline_ids in days.items():
        found = computed_days[day]
        out.clear(Grain.DAY, [day], pipeline_ids, metrics=True)
        if found.hours:
            out.clear(Grain.HOUR, hours_of(day), pipeline_ids, metrics=False)
        for branch_scope, piece in found.days.items():
            scope = SCOPE_CODES[branch_scope]
            _add_piece(out, Grain.DAY, day, scope, piece)
            out.add_metrics(Grain.DAY, day, scope, piece.metrics)
            fresh[(Grain.DAY, day, scope)] = FreshPeriod(
                frozenset(pipeline_ids), piece.runs, piece.jobs
            )
            for start, hour_piece in found.hours.get(branch_scope, {}).items():
                _add_piece(out, Grain.HOUR, start // HOUR_MS, scope, hour_piece)
        computed.organisation_days.add(day)
        for pipeline_id in pipeline_ids:
            computed.red_periods_from(pipeline_id, day * DAY_MS)
    _add_blocks(conn, unit.org_id, unit.days, fresh, out)


def _add_blocks(
    conn: Connection,
    org_id: str,
    days: dict[int, list[str]],
    fresh: Fresh,
    out: figure_writes.Replacement,
) -> None:
    """The 7- and 28-day blocks holding the days just computed (``days``: their pipelines
    by day; figures in ``fresh``), in every branch scope."""
    for size in sorted(rollups.BLOCK_SIZES):  # a 28-day block adds up the 7-day ones
        for start, pipeline_ids in _blocks(days, size).items():
            out.clear(size, [start], pipeline_ids, metrics=False)
            for scope in SCOPE_CODES.values():
                runs, jobs = _block(conn, org_id, size, start, pipeline_ids, scope, fresh)
                out.add_runs(size, start, scope, runs)
                out.add_jobs(size, start, scope, jobs)
                fresh[(size, start, scope)] = FreshPeriod(frozenset(pipeline_ids), runs, jobs)


def hours_of(day: int) -> range:
    return range(day * DAY_MS // HOUR_MS, (day + 1) * DAY_MS // HOUR_MS)


def _add_piece(
    out: figure_writes.Replacement, grain: int, period: int, scope: int, piece: rollups.Piece
) -> None:
    out.add_runs(grain, period, scope, piece.runs)
    out.add_jobs(grain, period, scope, piece.jobs)
    out.add_runners(grain, period, scope, piece.runners)
    out.add_repeats(
        grain,
        period,
        scope,
        ((r.pipeline_id, r.run_key, r.previous_started_at_ms) for r in piece.repeats),
    )


def _blocks(days: dict[int, list[str]], size: int) -> dict[int, list[str]]:
    """The blocks of ``size`` days holding the days, with their pipelines."""
    found: dict[int, set[str]] = defaultdict(set)
    for day, pipeline_ids in days.items():
        found[rollups.block_of(day, size)].update(pipeline_ids)
    return {start: sorted(pipeline_ids) for start, pipeline_ids in sorted(found.items())}


def _block(
    conn: Connection,
    org_id: str,
    size: int,
    start: int,
    pipeline_ids: list[str],
    scope: int,
    fresh: Fresh,
) -> tuple[dict[str, RunTally], dict[JobKey, JobTally]]:
    """A block's figures: the next shorter period's rows added up (7 days from days, 28
    from 7-day blocks), those computed in this unit in place of the stored ones."""
    part = max((s for s in rollups.BLOCK_SIZES if s < size), default=Grain.DAY)
    periods = list(range(start, start + size, part))

    def computed_here(pipeline_id: str, period: int) -> bool:
        found = fresh.get((part, period, scope))
        return found is not None and pipeline_id in found.pipeline_ids

    # Only the periods some of whose pipelines were not computed here are read.
    stored = [p for p in periods if not all(computed_here(i, p) for i in pipeline_ids)]
    runs: dict[str, RunTally] = {}
    jobs: dict[JobKey, JobTally] = {}
    for row in figure_reads.run_rows(conn, org_id, part, stored, pipeline_ids, scope):
        if not computed_here(row.pipeline_id, row.period):
            tally = runs.setdefault(row.pipeline_id, rollups.new_run_tally())
            rollups.add_run_tally(tally, row.tally)
    for job_row in figure_reads.job_rows(conn, org_id, part, stored, pipeline_ids, scope):
        if not computed_here(job_row.pipeline_id, job_row.period):
            key = (job_row.pipeline_id, job_row.definition_key)
            job = jobs.setdefault(key, rollups.new_job_tally(job_row.tally.name))
            rollups.add_job_tally(job, job_row.tally)
    wanted = set(pipeline_ids)
    for period in periods:
        here = fresh.get((part, period, scope))
        if here is not None:
            _add_fresh(runs, jobs, here, wanted)
    return runs, jobs


def _add_fresh(
    runs: dict[str, RunTally],
    jobs: dict[JobKey, JobTally],
    here: FreshPeriod,
    wanted: set[str],
) -> None:
    """Add a period's figures computed in this unit, of the wanted pipelines."""
    for pipeline_id, tally in here.runs.items():
        if pipeline_id in wanted:
            rollups.add_run_tally(runs.setdefault(pipeline_id, rollups.new_run_tally()), tally)
    for key, job_tally in here.jobs.items():
        if key[0] in wanted:
            into = jobs.setdefault(key, rollups.new_job_tally(job_tally.name))
            rollups.add_job_tally(into, job_tally)


# --- Organisation days ---------------------------------------------------------------------


def _organisation_days(conn: Connection, unit: Unit, now_ms: int, computed: Computed) -> None:
    """The organisation-wide rows of the unit's days (and recent days' hours), in every
    branch scope: every pipeline's stored row added up; and of the blocks holding them."""
    out = computed.replacement
    fresh: Fresh = {}
    for day in unit.days:
        grains: list[tuple[int, Sequence[int]]] = [(Grain.DAY, [day])]
        if rollups.stores_hours(day, now_ms):
            grains.append((Grain.HOUR, hours_of(day)))
        for grain, periods in grains:
            out.clear(grain, periods, [ORG], metrics=False)
            for scope in SCOPE_CODES.values():
                totals: dict[int, RunTally] = {}
                for row in figure_reads.run_rows(conn, unit.org_id, grain, periods, None, scope):
                    total = totals.setdefault(row.period, rollups.new_run_tally())
                    rollups.add_run_tally(total, row.tally)
                for period, total in sorted(totals.items()):
                    if sum(total.by_status.values()):
                        out.add_runs(grain, period, scope, {ORG: total})
                _organisation_runners(conn, unit.org_id, (grain, periods), scope, out)
                if grain == Grain.DAY:
                    runs = {ORG: totals[day]} if day in totals else {}
                    fresh[(Grain.DAY, day, scope)] = FreshPeriod(frozenset([ORG]), runs, {})
    _add_blocks(conn, unit.org_id, {day: [ORG] for day in unit.days}, fresh, out)


def _organisation_runners(
    conn: Connection,
    org_id: str,
    at: tuple[int, Sequence[int]],
    scope: int,
    out: figure_writes.Replacement,
) -> None:
    """The organisation's runner rows of some periods: per label set, every pipeline's."""
    grain, periods = at
    totals: dict[tuple[int, str], RunnerTally] = {}
    for row in runner_rows.runner_rows(conn, org_id, grain, periods, None, scope):
        add_runner_tally(totals.setdefault((row.period, row.label_set), RunnerTally()), row.tally)
    for (period, label_set), tally in sorted(totals.items()):
        out.add_runners(grain, period, scope, {(ORG, label_set): tally})


# --- Red periods ---------------------------------------------------------------------------


def _red_periods(conn: Connection, unit: Unit, computed: Computed) -> None:
    starts = rollup_marks.red_period_starts(conn, unit.partitions)
    for pipeline_id, from_ms in sorted(starts.items()):
        stale, fresh = recovery.recompute(conn, unit.org_id, pipeline_id, from_ms)
        computed.stale_periods += stale
        computed.fresh_periods += [
            (p.pipeline_id, p.branch, p.started_at_ms, p.ended_at_ms, p.failing_attempts)
            for p in fresh
        ]


# --- Planning ------------------------------------------------------------------------------


def batched(items: Sequence[Marked], size: int) -> Iterator[tuple[Marked, ...]]:
    for start in range(0, len(items), size):
        yield tuple(items[start : start + size])
