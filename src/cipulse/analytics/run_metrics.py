"""Run metrics over run attempts, as definitions.py states them.

Run-level metrics over run attempts, computed exactly as ``definitions.py`` states them.
Pure functions of the attempts they are given."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cipulse.domain.histogram import Histogram, bucket_of
from cipulse.domain.status import STATUS_TEXT, Status
from cipulse.domain.tallies import FAILURE_CLASSES, AttemptFacts, Outcome, RunTally
from cipulse.domain.window import Window

#: The statuses' names in the enum's order (``.value`` on members is slow in a loop).
STATUS_NAMES = tuple(STATUS_TEXT.values())
SUCCESS = Status.SUCCESS.value
FAILING = frozenset({Status.FAILURE.value, Status.TIMED_OUT.value})
DECIDED = FAILING | {SUCCESS}


def nearest_rank(sorted_values: Sequence[float], percentile: float) -> float | None:
    """The value at rank ⌈p/100·n⌉ (1-based) of ``sorted_values``."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(percentile / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def percentile_of(durations: Histogram, percentile: float) -> float | None:
    """Nearest rank of a histogram's values (exact while it keeps them, else within 1%)."""
    return durations.percentile(percentile)


def mean_of(durations: Histogram) -> float | None:
    return durations.mean()


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def runs_needing_history(attempts: Iterable[AttemptFacts]) -> set[tuple[str, str]]:
    """Runs whose earlier attempts matter: only a retry (attempt > 1) can make a run flaky."""
    return {attempt.run for attempt in attempts if attempt.attempt > 1}


@dataclass(frozen=True, slots=True)
class FlakyRun:
    """A run whose failing attempts were followed by a success (the one it is counted at)."""

    failing: tuple[AttemptFacts, ...]
    success: AttemptFacts


def flaky_runs(
    in_window: Sequence[AttemptFacts], history: Sequence[AttemptFacts]
) -> dict[tuple[str, str], FlakyRun]:
    """The flaky runs counted in this window: those whose first success after a failing
    attempt is one of ``in_window``."""
    counted_ids = {attempt.id for attempt in in_window}
    by_run: dict[tuple[str, str], list[AttemptFacts]] = defaultdict(list)
    for attempt in history:
        by_run[attempt.run].append(attempt)
    found: dict[tuple[str, str], FlakyRun] = {}
    for run, attempts in by_run.items():
        failing: list[AttemptFacts] = []
        for attempt in sorted(attempts, key=lambda item: item.attempt):
            if attempt.status in FAILING:
                failing.append(attempt)
            elif attempt.status == SUCCESS and failing:
                if attempt.id in counted_ids:
                    found[run] = FlakyRun(tuple(failing), attempt)
                break
    return found


def tally_of(window: Window, in_window: Sequence[AttemptFacts], *, exact: bool = False) -> RunTally:
    """The tally of attempts; ``exact``: its histogram keeps every duration (a reference
    computation's exact percentiles)."""
    duration_statuses = set(window.filters.statuses) or {SUCCESS}
    durations = sorted(
        a.duration_seconds
        for a in in_window
        if a.status in duration_statuses and a.duration_seconds is not None
    )
    return RunTally(
        by_status=Counter(a.status for a in in_window),
        first_by_status=Counter(a.status for a in in_window if a.attempt == 1),
        compute_seconds=sum(a.compute_seconds or 0.0 for a in in_window),
        durations=Histogram.of(durations, exact=exact),
        decided_runs=len({a.run for a in in_window if a.status in DECIDED}),
        duration_top_bucket=bucket_of(durations[-1]) if durations else None,
        failed_by_class=Counter(a.failure_class for a in in_window if a.failure_class),
    )


@dataclass(frozen=True, slots=True)
class RunFigures:
    """Every run-level figure of ``definitions.RUN_METRICS``, a field per definition of the
    same name, and the counts by status.

    A dataclass, not a mapping: mypy checks every reader, and adding a run figure is a
    definition, a field and its computation here, and its presenter line in ``web/``."""

    runs: int
    by_status: dict[str, int]
    success_rate: float | None
    first_attempt_success_rate: float | None
    p50_duration_seconds: float | None
    p95_duration_seconds: float | None
    mean_duration_seconds: float | None
    compute_seconds: float
    throughput_per_day: float
    flaky_runs: int
    flaky_rate: float | None
    retry_compute_seconds: float
    #: Per failure class (``FAILURE_CLASSES``, every one present), the failed attempts.
    failures_by_class: dict[str, int] = field(default_factory=dict)

    def figure(self, name: str) -> Any:
        """The figure a definition (or a sort, or a series) names."""
        return getattr(self, name)


def metrics_of(window: Window, tally: RunTally) -> RunFigures:
    """Every run-level metric of ``definitions.RUN_METRICS``, from a tally."""
    by_status = tally.by_status
    decided = by_status[SUCCESS] + sum(by_status[s] for s in FAILING)
    first_decided = sum(tally.first_by_status[s] for s in DECIDED)
    durations = tally.durations
    runs = sum(by_status.values())
    return RunFigures(
        runs=runs,
        by_status={status: by_status[status] for status in STATUS_NAMES},
        success_rate=_ratio(by_status[SUCCESS], decided),
        first_attempt_success_rate=_ratio(tally.first_by_status[SUCCESS], first_decided),
        p50_duration_seconds=percentile_of(durations, 50),
        p95_duration_seconds=percentile_of(durations, 95),
        mean_duration_seconds=mean_of(durations),
        compute_seconds=tally.compute_seconds,
        throughput_per_day=runs / window.days,
        flaky_runs=tally.flaky_runs,
        flaky_rate=_ratio(tally.flaky_runs, tally.decided_runs),
        retry_compute_seconds=tally.retry_compute_seconds,
        failures_by_class=by_class(tally.failed_by_class),
    )


def by_class(counts: Counter[str]) -> dict[str, int]:
    """Failures per class, every class present (0 when none), in ``FAILURE_CLASSES`` order."""
    return {name: counts[name] for name in FAILURE_CLASSES}


def with_flaky(tally: RunTally, flaky: dict[tuple[str, str], FlakyRun]) -> RunTally:
    """The tally with the flaky runs counted in its window (and what their retries cost)."""
    tally.flaky_runs = len(flaky)
    tally.retry_compute_seconds = retry_compute(flaky.values())
    return tally


def retry_compute(flaky: Iterable[FlakyRun]) -> float:
    return sum(a.compute_seconds or 0.0 for run in flaky for a in run.failing)


def summary(
    window: Window, in_window: Sequence[AttemptFacts], history: Sequence[AttemptFacts]
) -> RunFigures:
    """Every run-level metric, straight from the attempts. ``history`` holds all attempts
    of the runs ``runs_needing_history`` names (whatever their time)."""
    return metrics_of(
        window, with_flaky(tally_of(window, in_window, exact=True), flaky_runs(in_window, history))
    )


@dataclass(frozen=True, slots=True)
class RedPeriod:
    """A pipeline on a branch from its first failing attempt after a success (or at the
    start of its history) to the next success (``ended_at_ms``; None while still red)."""

    pipeline_id: str
    branch: str | None
    started_at_ms: int
    ended_at_ms: int | None
    failing_attempts: int

    @property
    def seconds(self) -> float | None:
        if self.ended_at_ms is None:
            return None
        return (self.ended_at_ms - self.started_at_ms) / 1000


def _in_order(outcome: Outcome) -> tuple[int, bool]:
    """Outcomes by ``completed_at``; at one instant, successes before failures."""
    return (outcome.completed_at_ms, outcome.status in FAILING)


def red_periods(outcomes: Sequence[Outcome]) -> list[RedPeriod]:
    """Red periods of every (pipeline, branch), taking the outcomes in ``completed_at``
    order. Outcomes of one instant are taken successes first, so an instant with a failure
    ends red, whatever order the attempts were stored in: a period never starts and ends at
    the same instant, and two periods of a pipeline and branch never start at the same one
    (their ids, ``ids.red_period_id``, derive from the start)."""
    open_periods: dict[tuple[str, str | None], tuple[int, int]] = {}
    periods: list[RedPeriod] = []
    for outcome in sorted(outcomes, key=_in_order):
        key = (outcome.pipeline_id, outcome.branch)
        if outcome.status in FAILING:
            started, count = open_periods.get(key, (outcome.completed_at_ms, 0))
            open_periods[key] = (started, count + 1)
        elif key in open_periods:
            started, count = open_periods.pop(key)
            periods.append(RedPeriod(*key, started, outcome.completed_at_ms, count))
    periods += [
        RedPeriod(*key, started, None, count) for key, (started, count) in open_periods.items()
    ]
    return periods


@dataclass(frozen=True, slots=True)
class WindowRecovery:
    """``mttr_seconds``: the mean length of the red periods that ended in the window
    (``ended``); ``red_now``: the periods still red at its end."""

    mttr_seconds: float | None
    recovered_periods: int
    ended: list[RedPeriod]
    red_now: list[RedPeriod]


def recovery(window: Window, outcomes: Sequence[Outcome]) -> WindowRecovery:
    """The red periods of the outcomes, straight from them: those that ended in the window
    and those red at its end (the reference the stored periods are checked against)."""
    periods = red_periods(outcomes)
    ended = [
        p
        for p in periods
        if p.ended_at_ms is not None and window.since_ms <= p.ended_at_ms < window.until_ms
    ]
    lengths = [p.seconds for p in ended if p.seconds is not None]
    return WindowRecovery(
        mttr_seconds=sum(lengths) / len(lengths) if lengths else None,
        recovered_periods=len(ended),
        ended=ended,
        red_now=[p for p in periods if p.ended_at_ms is None],
    )
