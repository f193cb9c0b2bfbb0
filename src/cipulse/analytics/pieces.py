"""Pieces computed from raw rows, for the refresher and reads alike.

Pieces computed from the raw rows: one UTC day of some pipelines for the refresher, or a
partial day (or a still-dirty partition) for a read. The same code serves both, so stored
and freshly computed figures cannot disagree."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy.engine import Connection

from cipulse.analytics import custom_metrics, read_plan, rollups, run_metrics
from cipulse.domain.histogram import Histogram
from cipulse.domain.tallies import AttemptFacts
from cipulse.domain.window import (
    BRANCH_SCOPES,
    DAY_MS,
    HOUR_MS,
    Filters,
    Window,
    in_branch_scope,
)
from cipulse.storage import analytics_store as store
from cipulse.storage import attempt_filters
from cipulse.storage.rollups import marks as rollup_marks


def raw_piece(
    conn: Connection,
    org_id: str,
    window: Window,
    pipeline_ids: Sequence[str] | None,
    *,
    with_jobs: bool,
    with_metrics: bool = False,
) -> rollups.Piece:
    """The piece of the attempts in ``window`` (which may carry filters) of those pipelines
    (None: all)."""
    attempts = store.attempts_in_window(conn, org_id, window, pipeline_ids)
    # Every attempt of the piece's runs: flakiness and runs decided on several days need them.
    history = store.attempts_of_runs(conn, org_id, {a.run for a in attempts})
    jobs_by_attempt = _jobs_of(conn, org_id, attempts, history) if with_jobs else None
    piece = rollups.piece_of(window, attempts, history, jobs_by_attempt)
    if with_metrics:
        piece.metrics = custom_metrics.histograms_of(
            store.metric_events(conn, org_id, window, pipeline_ids)
        )
    return piece


@dataclass(frozen=True, slots=True)
class NewRuns:
    """New runs' attempts (``rollup_marks.NEW_RUNS``: not yet in the stored rows), what their
    pieces need: the runs' other attempts (none, unless one came since), jobs, and the
    pipelines' default branches."""

    attempts: list[AttemptFacts]
    history: list[AttemptFacts]
    jobs_by_attempt: dict[str, list[dict[str, Any]]] | None
    defaults: dict[str, str | None]

    def pieces(
        self, branch_scope: str | None, position_of: Callable[[int], int | None]
    ) -> dict[int, rollups.Piece]:
        """The pieces of the attempts in the branch scope, by the position ``position_of``
        gives each attempt's start (None: not wanted): the stored period it is added to."""
        by_position: dict[int, list[AttemptFacts]] = defaultdict(list)
        for attempt in self.attempts:
            if attempt.started_at_ms is None:
                continue
            position = position_of(attempt.started_at_ms)
            if position is not None and in_branch_scope(
                attempt.branch, self.defaults.get(attempt.pipeline_id), branch_scope
            ):
                by_position[position].append(attempt)
        scoped = Filters(branch_scope=branch_scope)
        return {
            position: rollups.piece_of(
                Window(position, position + 1, scoped), found, self.history, self.jobs_by_attempt
            )
            for position, found in sorted(by_position.items())
        }

    def stored_pieces(self, first_hourly_day: int) -> dict[int, StoredPieces]:
        """The pieces the refresher adds to the stored rows, by day: every branch scope, and
        their hours for days from ``first_hourly_day`` on (as ``stored_pieces``)."""
        assert self.jobs_by_attempt is not None, "read with_jobs"
        by_day: dict[int, list[AttemptFacts]] = defaultdict(list)
        for attempt in self.attempts:
            assert attempt.started_at_ms is not None  # new runs are read with a start
            by_day[attempt.started_at_ms // DAY_MS].append(attempt)
        return {
            day: _scoped_pieces(
                Window(day * DAY_MS, (day + 1) * DAY_MS),
                attempts,
                self.history,
                self.jobs_by_attempt,
                self.defaults,
                hours=day >= first_hourly_day,
            )
            for day, attempts in sorted(by_day.items())
        }


def new_runs(
    conn: Connection, org_id: str, attempt_ids: Sequence[str], *, with_jobs: bool
) -> NewRuns:
    """The new runs of these attempt ids, as stored now (an attempt since deleted is left
    out)."""
    attempts = [
        a for a in store.attempts_by_id(conn, org_id, attempt_ids) if a.started_at_ms is not None
    ]
    history = store.attempts_of_runs(conn, org_id, {a.run for a in attempts})
    jobs_by_attempt = _jobs_of(conn, org_id, attempts, history) if with_jobs else None
    defaults = attempt_filters.default_branches(
        conn, org_id, sorted({a.pipeline_id for a in attempts})
    )
    return NewRuns(attempts, history, jobs_by_attempt, defaults)


def new_run_pieces(
    conn: Connection, org_id: str, plan: read_plan.ReadPlan, *, with_jobs: bool
) -> dict[int, rollups.Piece]:
    """The pieces of the new runs (``rollup_marks.NEW_RUNS``) that the stored periods of the
    cover do not hold yet, by the position of their stored day or hour. Those of dirty
    partitions, and those at the raw edges, are in the raw pieces already."""
    stored_days, hours = plan.cover.stored_days, set(plan.cover.hours)
    if not stored_days and not hours:
        return {}
    days = stored_days | plan.cover.hour_days
    marks = rollup_marks.new_run_marks(conn, org_id, min(days), max(days) + 1)
    wanted = None if plan.pipeline_ids is None else set(plan.pipeline_ids)
    attempt_ids = [
        attempt_id
        for (pipeline_id, day), ids in marks.items()
        if day in days
        and (pipeline_id, day) not in plan.dirty
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

    found = new_runs(conn, org_id, attempt_ids, with_jobs=with_jobs)
    return found.pieces(plan.window.filters.branch_scope, position_of)


#: The refresher reads a partition's runs this many at a time (with their other attempts and
#: jobs): its memory is bounded however many runs a pipeline has in a day.
RUNS_PER_CHUNK = 1000


@dataclass(slots=True)
class StoredPieces:
    """What the refresher stores of a day, per branch scope (None: every branch, then each
    of ``BRANCH_SCOPES``): the day's piece, and (when asked for) the pieces of its hours
    with attempts, by the hour's start in ms."""

    days: dict[str | None, rollups.Piece] = field(default_factory=dict)
    hours: dict[str | None, dict[int, rollups.Piece]] = field(default_factory=dict)

    def add(self, other: StoredPieces) -> None:
        """Add the pieces of other runs (pieces of disjoint sets of runs add up)."""
        for scope, piece in other.days.items():
            rollups.add_piece(self.days.setdefault(scope, rollups.Piece()), piece)
        for scope, by_hour in other.hours.items():
            into = self.hours.setdefault(scope, {})
            for start, piece in by_hour.items():
                rollups.add_piece(into.setdefault(start, rollups.Piece()), piece)


def stored_pieces(
    conn: Connection, org_id: str, days: dict[int, list[str]], hours_from_day: int
) -> dict[int, StoredPieces]:
    """What the refresher stores of some days (``days``: the pipelines of each), by day:
    each piece is the one ``raw_piece`` would compute with that scope as the window's filter
    (and that hour as its window, for days from ``hours_from_day`` on), days with their
    custom metrics. The raw rows are read ``RUNS_PER_CHUNK`` runs at a time, each once, and
    split by day, scope and hour."""
    pipeline_ids = sorted({p for day_pipelines in days.values() for p in day_pipelines})
    wanted = {(p, day) for day, day_pipelines in days.items() for p in day_pipelines}
    span = Window(min(days) * DAY_MS, (max(days) + 1) * DAY_MS)
    defaults = attempt_filters.default_branches(conn, org_id, pipeline_ids)
    found = {day: StoredPieces() for day in days}
    runs = store.runs_of_partitions(conn, org_id, span, pipeline_ids, wanted)
    for start in range(0, len(runs), RUNS_PER_CHUNK):
        history = store.attempts_of_runs(conn, org_id, runs[start : start + RUNS_PER_CHUNK])
        by_day = _by_wanted_day(history, wanted)
        in_days = [attempt for attempts in by_day.values() for attempt in attempts]
        jobs_by_attempt = _jobs_of(conn, org_id, in_days, history)
        for day, attempts in by_day.items():
            window = Window(day * DAY_MS, (day + 1) * DAY_MS)
            hours = day >= hours_from_day
            found[day].add(
                _scoped_pieces(window, attempts, history, jobs_by_attempt, defaults, hours=hours)
            )
    metrics = _metrics_by_day(conn, org_id, span, pipeline_ids, wanted, defaults)
    for day, pieces_of_day in found.items():
        for branch_scope in (None, *BRANCH_SCOPES):
            piece = pieces_of_day.days.setdefault(branch_scope, rollups.Piece())
            piece.metrics = metrics.get((day, branch_scope), {})
            if day >= hours_from_day:
                pieces_of_day.hours.setdefault(branch_scope, {})
    return found


def _by_wanted_day(
    attempts: Sequence[AttemptFacts], wanted: set[tuple[str, int]]
) -> dict[int, list[AttemptFacts]]:
    """The attempts started in a wanted partition (pipeline, day), by day."""
    by_day: dict[int, list[AttemptFacts]] = defaultdict(list)
    for attempt in attempts:
        if attempt.started_at_ms is not None:
            day = attempt.started_at_ms // DAY_MS
            if (attempt.pipeline_id, day) in wanted:
                by_day[day].append(attempt)
    return by_day


def _metrics_by_day(
    conn: Connection,
    org_id: str,
    span: Window,
    pipeline_ids: Sequence[str],
    wanted: set[tuple[str, int]],
    defaults: dict[str, str | None],
) -> dict[tuple[int, str | None], dict[custom_metrics.MetricKey, Histogram]]:
    """Custom metrics' histograms by (day, branch scope), of the wanted partitions."""
    events: dict[tuple[int, str | None], list[custom_metrics.Event]] = defaultdict(list)
    for branch, event in store.metric_events_with_branch(conn, org_id, span, pipeline_ids):
        day = event.started_at_ms // DAY_MS
        if (event.pipeline_id, day) not in wanted:
            continue
        for branch_scope in (None, *BRANCH_SCOPES):
            if in_branch_scope(branch, defaults.get(event.pipeline_id), branch_scope):
                events[(day, branch_scope)].append(event)
    return {key: custom_metrics.histograms_of(found) for key, found in events.items()}


def _scoped_pieces(
    window: Window,
    attempts: Sequence[AttemptFacts],
    history: Sequence[AttemptFacts],
    jobs_by_attempt: dict[str, list[dict[str, Any]]],
    defaults: dict[str, str | None],
    *,
    hours: bool,
) -> StoredPieces:
    """The pieces of some runs' attempts in the day, per branch scope (and hour)."""
    found = StoredPieces()
    for branch_scope in (None, *BRANCH_SCOPES):
        scoped = [
            a
            for a in attempts
            if in_branch_scope(a.branch, defaults.get(a.pipeline_id), branch_scope)
        ]
        if branch_scope is not None and len(scoped) == len(attempts):
            # Every attempt is in this scope (one branch only, often): the same pieces.
            found.days[branch_scope] = found.days[None]
            if hours:
                found.hours[branch_scope] = found.hours[None]
            continue
        found.days[branch_scope] = rollups.piece_of(window, scoped, history, jobs_by_attempt)
        if hours:
            found.hours[branch_scope] = {
                start: rollups.piece_of(
                    Window(start, start + HOUR_MS), in_hour, history, jobs_by_attempt
                )
                for start, in_hour in _by_hour(scoped).items()
            }
    return found


def raw_pieces_by_hour(
    conn: Connection,
    org_id: str,
    window: Window,
    pipeline_ids: Sequence[str] | None,
    *,
    with_jobs: bool,
) -> list[tuple[int, rollups.Piece]]:
    """``raw_piece`` of each hour of the window with attempts (with the window's filters),
    from one read of the raw rows: (the hour's start, or the window's when later, piece)."""
    attempts = store.attempts_in_window(conn, org_id, window, pipeline_ids)
    history = store.attempts_of_runs(conn, org_id, {a.run for a in attempts})
    jobs_by_attempt = _jobs_of(conn, org_id, attempts, history) if with_jobs else None
    found = []
    for start, in_hour in sorted(_by_hour(attempts).items()):
        hour = replace(
            window,
            since_ms=max(start, window.since_ms),
            until_ms=min(start + HOUR_MS, window.until_ms),
        )
        found.append((hour.since_ms, rollups.piece_of(hour, in_hour, history, jobs_by_attempt)))
    return found


def _by_hour(attempts: Sequence[AttemptFacts]) -> dict[int, list[AttemptFacts]]:
    by_hour: dict[int, list[AttemptFacts]] = defaultdict(list)
    for attempt in attempts:
        assert attempt.started_at_ms is not None  # attempts in a window have started
        by_hour[attempt.started_at_ms // HOUR_MS * HOUR_MS].append(attempt)
    return by_hour


def _jobs_of(
    conn: Connection,
    org_id: str,
    attempts: Sequence[AttemptFacts],
    history: Sequence[AttemptFacts],
) -> dict[str, list[dict[str, Any]]]:
    """The jobs of the attempts, of the failing attempts of their flaky runs, and of the
    later attempts of their runs (a failure passed on a retry), by attempt id."""
    flaky = run_metrics.flaky_runs(attempts, history)
    wanted = {a.id for a in attempts} | {a.id for run in flaky.values() for a in run.failing}
    first: dict[tuple[str, str], int] = {}
    for attempt in attempts:
        first[attempt.run] = min(first.get(attempt.run, attempt.attempt), attempt.attempt)
    wanted |= {a.id for a in history if a.run in first and a.attempt > first[a.run]}
    jobs_by_attempt: dict[str, list[dict[str, Any]]] = {}
    for job in store.job_facts_of(conn, org_id, sorted(wanted)):
        jobs_by_attempt.setdefault(job["attempt_id"], []).append(job)
    return jobs_by_attempt
