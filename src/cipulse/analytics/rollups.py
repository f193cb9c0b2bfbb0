"""Figures of a piece of history (pipelines, time range) that add up.

Rollups: the figures of one *piece* of history (a time range, e.g. one UTC day, of some
pipelines) in a form that adds up across pieces, so that a window's figures are the sum of
its pieces'. Pure functions; ``refresh.py`` stores pieces per (pipeline, day), and
``rollup_reads.py`` adds stored pieces and pieces computed from raw rows.

What adds up:
- counts per status, compute, durations (as mergeable histograms, ``domain/histogram.py``);
- flaky runs: each is counted in the piece holding its successful attempt;
- runs with a decided attempt (success, failure, timed_out) are counted once per piece. A
  run decided in several pieces of a window would be counted more than once, so each piece
  also lists its *repeats*: runs decided in it that have a decided attempt started earlier,
  with the latest such start. A window subtracts the repeats whose earlier start is inside
  it, which leaves each run counted once (retries are numbered in the order they start).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cipulse.analytics import job_metrics, run_metrics
from cipulse.analytics.runner_metrics import runner_tallies
from cipulse.domain.compute import outer_level
from cipulse.domain.histogram import Histogram
from cipulse.domain.runner_tallies import RunnerKey, RunnerTally, add_runner_tally
from cipulse.domain.tallies import BLOCK_GRAINS, AttemptFacts, Grain, JobTally, RunTally
from cipulse.domain.window import DAY_MS, HOUR_MS, Window

JobKey = job_metrics.JobKey

#: Epoch day 4 (1970-01-05) is a Monday: weeks start on Mondays, as the time series' do.
_MONDAY = 4
WEEK_DAYS = Grain.WEEK


@dataclass(frozen=True, slots=True)
class Repeat:
    pipeline_id: str
    run_key: str
    previous_started_at_ms: int


@dataclass(slots=True)
class Piece:
    """Additive figures: run tallies per pipeline, job tallies per (pipeline, job), and the
    repeats. Durations are histograms."""

    runs: dict[str, RunTally] = field(default_factory=dict)
    jobs: dict[JobKey, JobTally] = field(default_factory=dict)
    repeats: list[Repeat] = field(default_factory=list)
    #: Custom metrics: (pipeline, metric key, tag key or '', tag value or '') → histogram.
    metrics: dict[tuple[str, str, str, str], Histogram] = field(default_factory=dict)
    #: Runner tallies per (pipeline, label set), with the job tallies.
    runners: dict[RunnerKey, RunnerTally] = field(default_factory=dict)


def add_run_tally(into: RunTally, other: RunTally) -> None:
    into.by_status.update(other.by_status)
    into.first_by_status.update(other.first_by_status)
    into.compute_seconds += other.compute_seconds
    into.durations.merge(other.durations)
    into.decided_runs += other.decided_runs
    into.flaky_runs += other.flaky_runs
    into.retry_compute_seconds += other.retry_compute_seconds
    into.duration_top_bucket = _higher(into.duration_top_bucket, other.duration_top_bucket)
    into.failed_by_class.update(other.failed_by_class)


def add_piece(into: Piece, other: Piece) -> None:
    """Add the figures of a piece of other runs (over the same time range)."""
    for pipeline_id, tally in other.runs.items():
        add_run_tally(into.runs.setdefault(pipeline_id, new_run_tally()), tally)
    for key, job in other.jobs.items():
        add_job_tally(into.jobs.setdefault(key, new_job_tally(job.name)), job)
    into.repeats += other.repeats
    for metric_key, histogram in other.metrics.items():
        into.metrics.setdefault(metric_key, Histogram()).merge(histogram)
    for runner_key, runner in other.runners.items():
        add_runner_tally(into.runners.setdefault(runner_key, RunnerTally()), runner)


def add_job_tally(into: JobTally, other: JobTally) -> None:
    into.name = max(into.name, other.name)
    into.by_status.update(other.by_status)
    into.total_duration_seconds += other.total_duration_seconds
    into.exclusive_seconds += other.exclusive_seconds
    into.durations.merge(other.durations)
    into.flaky_count += other.flaky_count
    into.failures_passed_on_retry += other.failures_passed_on_retry
    into.retry_compute_seconds += other.retry_compute_seconds
    if other.last_flaky_at_ms is not None:
        into.last_flaky_at_ms = max(into.last_flaky_at_ms or 0, other.last_flaky_at_ms)
    into.duration_top_bucket = _higher(into.duration_top_bucket, other.duration_top_bucket)
    into.level = outer_level(into.level, other.level)
    into.failed_by_class.update(other.failed_by_class)
    for key, values in other.metrics.items():
        into.metrics.setdefault(key, Histogram()).merge(values)


def _higher(one: int | None, other: int | None) -> int | None:
    if one is None:
        return other
    return one if other is None else max(one, other)


def new_run_tally() -> RunTally:
    return RunTally()


def new_job_tally(name: str = "") -> JobTally:
    return JobTally(name=name)


def piece_of(
    window: Window,
    attempts: Sequence[AttemptFacts],
    history: Sequence[AttemptFacts],
    jobs_by_attempt: dict[str, list[dict[str, Any]]] | None,
) -> Piece:
    """The figures of the attempts started in the window (durations of the statuses its
    status filter names, or of successes). ``history`` holds every
    attempt of their runs, whatever its time;
    ``jobs_by_attempt`` the jobs of the attempts and of the failing attempts of their flaky
    runs, or None to leave job figures out."""
    piece = Piece()
    by_pipeline: dict[str, list[AttemptFacts]] = defaultdict(list)
    for attempt in attempts:
        by_pipeline[attempt.pipeline_id].append(attempt)
    flaky_all = run_metrics.flaky_runs(attempts, history)
    flaky_by_pipeline: dict[str, dict[tuple[str, str], run_metrics.FlakyRun]] = defaultdict(dict)
    for run, flaky_run in flaky_all.items():
        flaky_by_pipeline[run[0]][run] = flaky_run
    for pipeline_id, own in by_pipeline.items():
        tally = run_metrics.tally_of(window, own)
        run_metrics.with_flaky(tally, flaky_by_pipeline.get(pipeline_id, {}))
        piece.runs[pipeline_id] = tally
    piece.repeats = _repeats(window.since_ms, attempts, history)
    if jobs_by_attempt is not None:
        statuses = set(window.filters.statuses) or {run_metrics.SUCCESS}
        piece.jobs = _job_tallies(attempts, jobs_by_attempt, flaky_all, statuses)
        for key, count in _failures_passed_on_retry(attempts, history, jobs_by_attempt).items():
            piece.jobs[key].failures_passed_on_retry = count
        piece.runners = runner_tallies(attempts, history, jobs_by_attempt)
    return piece


def _failures_passed_on_retry(
    attempts: Sequence[AttemptFacts],
    history: Sequence[AttemptFacts],
    jobs_by_attempt: dict[str, list[dict[str, Any]]],
) -> Counter[JobKey]:
    """Per job, its failing executions in ``attempts`` after which it ended success in a
    later attempt of the same run (``history`` holds the runs' attempts; only runs retried
    after one of ``attempts`` are looked at)."""
    last_attempt: dict[tuple[str, str], int] = {}
    for attempt in history:
        last_attempt[attempt.run] = max(last_attempt.get(attempt.run, 0), attempt.attempt)
    retried = [a for a in attempts if last_attempt.get(a.run, 0) > a.attempt]
    found: Counter[JobKey] = Counter()
    if not retried:
        return found
    runs = {attempt.run for attempt in retried}
    #: (run, definition key) → the latest attempt in which the job ended success.
    passed_at: dict[tuple[tuple[str, str], str], int] = {}
    for attempt in history:
        if attempt.run in runs:
            for job in jobs_by_attempt.get(attempt.id, ()):
                if job["status"] == run_metrics.SUCCESS:
                    key = (attempt.run, job["definition_key"])
                    passed_at[key] = max(passed_at.get(key, 0), attempt.attempt)
    for attempt in retried:
        for job in jobs_by_attempt.get(attempt.id, ()):
            definition = job["definition_key"]
            if (
                job["status"] in run_metrics.FAILING
                and passed_at.get((attempt.run, definition), 0) > attempt.attempt
            ):
                found[(attempt.pipeline_id, definition)] += 1
    return found


def _repeats(
    start_ms: int, attempts: Sequence[AttemptFacts], history: Sequence[AttemptFacts]
) -> list[Repeat]:
    decided_here = {a.run for a in attempts if a.status in run_metrics.DECIDED}
    earlier: dict[tuple[str, str], int] = {}
    for attempt in history:
        started = attempt.started_at_ms
        if (
            attempt.run in decided_here
            and attempt.status in run_metrics.DECIDED
            and started is not None
            and started < start_ms
        ):
            earlier[attempt.run] = max(earlier.get(attempt.run, started), started)
    return [Repeat(run[0], run[1], started) for run, started in sorted(earlier.items())]


def _job_tallies(
    attempts: Sequence[AttemptFacts],
    jobs_by_attempt: dict[str, list[dict[str, Any]]],
    flaky: dict[tuple[str, str], run_metrics.FlakyRun],
    duration_statuses: set[str],
) -> dict[JobKey, JobTally]:
    pipeline_of = {attempt.id: attempt.pipeline_id for attempt in attempts}
    own_jobs: list[dict[str, Any]] = []
    exclusive: dict[tuple[str, str], float] = {}
    for attempt in attempts:
        attempt_jobs = jobs_by_attempt.get(attempt.id, [])
        own_jobs += attempt_jobs
        exclusive.update(_exclusive_of(attempt, attempt_jobs))
    tallies = job_metrics.tallies_of(pipeline_of, own_jobs, exclusive, duration_statuses)
    for key, runs in job_metrics.flaky_jobs(flaky, jobs_by_attempt).items():
        flaky_job = tallies.get(key)
        if flaky_job is None:  # pragma: no cover - a flaky job succeeded in this piece
            continue
        tally = flaky_job
        tally.flaky_count = len(runs)
        tally.retry_compute_seconds = run_metrics.retry_compute(runs)
        tally.last_flaky_at_ms = max(run.success.started_at_ms or 0 for run in runs)
    return tallies


def _exclusive_of(
    attempt: AttemptFacts, jobs: Sequence[dict[str, Any]]
) -> Iterable[tuple[tuple[str, str], float]]:
    """(attempt id, node key) → seconds alone: stored with snapshots, computed for trees."""
    if all(job["exclusive_seconds"] is not None for job in jobs):
        return (((attempt.id, job["node_key"]), job["exclusive_seconds"]) for job in jobs)
    top = job_metrics.top_level(jobs, attempt.root_node_key)
    return (
        ((attempt.id, key), seconds) for key, seconds in job_metrics.exclusive_seconds(top).items()
    )


# --- Covering a window with stored periods ---------------------------------------------


def day_of(ms: int) -> int:
    return ms // DAY_MS


def week_of(day: int) -> int:
    """The first day (a Monday) of the week holding ``day``."""
    return block_of(day, WEEK_DAYS)


def block_of(day: int, size: int) -> int:
    """The first day of the stored block of ``size`` days holding ``day``: blocks of 7 and
    28 days start on Mondays (every fourth Monday from 1970-01-05 for 28)."""
    return day - (day - _MONDAY) % size


#: The stored periods longer than a day, longest first: four weeks, one week.
BLOCK_SIZES = BLOCK_GRAINS


#: The refresher stores hours (besides days) for the partitions of today and of this many
#: days before; reads take hours of one day fewer (``hourly_from_ms``): today, yesterday and
#: the day before, what the last 24 hours and the 24 hours before them touch. A day a read
#: takes hours of was so refreshed while inside the refresher's horizon.
HOURLY_DAYS = 3


def hourly_from_ms(now_ms: int) -> int:
    """The start of the first day whose hours reads take from the rollups."""
    return (now_ms // DAY_MS - HOURLY_DAYS + 1) * DAY_MS


def stores_hours(day: int, now_ms: int) -> bool:
    """Whether the refresher stores the hours of ``day`` (besides the day itself)."""
    return day >= first_hourly_day(now_ms)


def first_hourly_day(now_ms: int) -> int:
    """The first day whose hours the refresher stores."""
    return now_ms // DAY_MS - HOURLY_DAYS


@dataclass(frozen=True, slots=True)
class Cover:
    """A window as stored periods and raw edges: whole blocks ((size, first day): 28-day
    and 7-day), whole days, whole hours (of recent days: hour numbers since the epoch), and
    what is left at either end (``edges``, millisecond ranges) that is read from raw rows."""

    blocks: tuple[tuple[int, int], ...]
    days: tuple[int, ...]
    edges: tuple[tuple[int, int], ...]
    hours: tuple[int, ...] = ()

    @property
    def all_days(self) -> set[int]:
        """Every day the stored periods hold some of (a day of hours included)."""
        return (
            {start + i for size, start in self.blocks for i in range(size)}
            | set(self.days)
            | self.hour_days
        )

    @property
    def hour_days(self) -> set[int]:
        """The days of the whole hours."""
        return {hour * HOUR_MS // DAY_MS for hour in self.hours}

    @property
    def stored_days(self) -> set[int]:
        """The days read as days (on their own or in blocks), not as hours."""
        return {start + i for size, start in self.blocks for i in range(size)} | set(self.days)

    def hours_of(self, day: int) -> tuple[int, int]:
        """The first of the whole hours of ``day`` and the hour after the last."""
        of_day = [hour for hour in self.hours if hour * HOUR_MS // DAY_MS == day]
        return min(of_day), max(of_day) + 1


def cover(
    since_ms: int,
    until_ms: int,
    sizes: tuple[int, ...] = BLOCK_SIZES,
    hours_from_ms: int | None = None,
) -> Cover:
    """Cover the window with the fewest stored periods: the longest aligned blocks that fit,
    then shorter ones towards the edges, then days; the partial days at the edges by whole
    hours when they start at or after ``hours_from_ms``."""
    first = -(-since_ms // DAY_MS)  # the first whole day
    last = until_ms // DAY_MS  # the day after the last whole day
    if first > last:  # inside one day; a window across midnight is two edges (series buckets)
        return _hourly(Cover((), (), ((since_ms, until_ms),)), hours_from_ms)
    edges = []
    if since_ms < first * DAY_MS:
        edges.append((since_ms, first * DAY_MS))
    if last * DAY_MS < until_ms:
        edges.append((last * DAY_MS, until_ms))
    blocks, days = _cover_days(first, last, sizes)
    found = Cover(tuple(sorted(blocks, key=lambda b: b[1])), tuple(sorted(days)), tuple(edges))
    return _hourly(found, hours_from_ms)


def hour_cover(since_ms: int, until_ms: int) -> Cover:
    """The window as whole hours and the parts of hours at either end: for hourly series."""
    return _hourly(Cover((), (), ((since_ms, until_ms),)), since_ms)


def _hourly(found: Cover, hours_from_ms: int | None) -> Cover:
    """The edges starting at or after ``hours_from_ms`` as whole hours and what is left."""
    if hours_from_ms is None:
        return found
    edges: list[tuple[int, int]] = []
    hours: list[int] = []
    for since_ms, until_ms in found.edges:
        first = -(-since_ms // HOUR_MS)
        last = until_ms // HOUR_MS
        if since_ms < hours_from_ms or first >= last:
            edges.append((since_ms, until_ms))
            continue
        hours += range(first, last)
        if since_ms < first * HOUR_MS:
            edges.append((since_ms, first * HOUR_MS))
        if last * HOUR_MS < until_ms:
            edges.append((last * HOUR_MS, until_ms))
    return Cover(found.blocks, found.days, tuple(edges), tuple(sorted(hours)))


def _cover_days(
    first: int, last: int, sizes: tuple[int, ...]
) -> tuple[list[tuple[int, int]], list[int]]:
    if first >= last:
        return [], []
    if not sizes:
        return [], list(range(first, last))
    size = sizes[0]
    start = block_of(first, size)
    if start < first:
        start += size
    starts = list(range(start, last - size + 1, size))
    if not starts:
        return _cover_days(first, last, sizes[1:])
    before = _cover_days(first, starts[0], sizes[1:])
    after = _cover_days(starts[-1] + size, last, sizes[1:])
    return (
        before[0] + [(size, s) for s in starts] + after[0],
        before[1] + after[1],
    )
