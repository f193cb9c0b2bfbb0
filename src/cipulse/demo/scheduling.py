"""One attempt's jobs in time: durations, stages, outcomes.

One attempt's jobs in time: log-normal durations, stages one after another (their jobs side
by side or in sequence), and what an outcome does to them (a failing job stops early and
what follows never runs; a cancellation stops what runs; an attempt not finished by now is
still running). Times are whole epoch seconds, as GitHub and GitLab report them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from random import Random

from cipulse.demo.layout import PipelineTemplate
from cipulse.domain.status import Status

#: The load on the runners slows jobs down by this fraction per unit above average.
CONTENTION = 0.1
#: Mean seconds before a runner picks a run up, and each job, at average load.
RUN_PICKUP_SECONDS = 8
JOB_PICKUP_SECONDS = 3


class Verdict(Enum):
    SUCCESS = "success"
    FAILURE = "failure"
    FLAKE = "flake"  # a flaky job fails; running the jobs again passes
    TIMEOUT = "timeout"
    CANCEL = "cancel"


@dataclass(frozen=True, slots=True)
class Outcome:
    verdict: Verdict
    #: The job that fails (``FAILURE``, ``FLAKE``, ``TIMEOUT``).
    job: int = -1
    #: How far into the attempt it is cancelled (``CANCEL``).
    fraction: float = 0.0
    #: The default branch is broken: a retry fails too, and is less likely.
    on_red_main: bool = False

    @property
    def failed(self) -> bool:
        return self.verdict in (Verdict.FAILURE, Verdict.FLAKE, Verdict.TIMEOUT)


SUCCESS = Outcome(Verdict.SUCCESS)


@dataclass(slots=True)
class Schedule:
    """Per job a status, a start and an end (none for a job that never started, no end for
    one still running), and the attempt's own."""

    statuses: list[Status]
    starts: list[int | None]
    ends: list[int | None]
    status: Status
    start: int
    end: int | None
    queue_seconds: int
    #: Per job, the seconds from when it could start (the attempt's creation, for the first
    #: jobs; the end of what it waits for, for the others) to its start.
    job_queue_seconds: tuple[int, ...] = ()


def schedule(
    rng: Random,
    template: PipelineTemplate,
    slot: int,
    runs: int,
    start: int,
    load: float,
    outcome: Outcome,
    now: int,
) -> Schedule:
    """The attempt of slot ``slot`` (of ``runs``) created at ``start`` under ``load``."""
    durations = _durations(rng, template, slot, runs, load)
    queue = int(rng.expovariate(1 / (RUN_PICKUP_SECONDS * load))) + 1
    count = len(template.jobs)
    starts: list[int | None] = [0] * count
    ends: list[int | None] = [0] * count
    pickup = 1 / (JOB_PICKUP_SECONDS * load)
    waits = [0] * count
    cursor, ready = start + queue, start
    for stage in template.stages:
        stage_end = cursor
        for job in stage.jobs:
            began = cursor + int(rng.expovariate(pickup))
            finished = began + durations[job]
            starts[job], ends[job], waits[job] = began, finished, began - ready
            if not stage.parallel:
                cursor = ready = finished
            stage_end = max(stage_end, finished)
        cursor = ready = stage_end + 1 + int(rng.random() * 5)
    statuses = [Status.SUCCESS] * count
    status = Status.SUCCESS
    if outcome.verdict is Verdict.CANCEL:
        status = Status.CANCELLED
        end = _cancel(start, outcome.fraction, statuses, starts, ends)
    else:
        if outcome.failed:
            status = Status.FAILURE
            _fail(rng, template, outcome, durations, statuses, starts, ends)
        end = max(end for end in ends if end is not None)
    result = Schedule(statuses, starts, ends, status, start, end, queue, tuple(waits))
    if end > now:
        _in_flight(result, now)
    return result


def _durations(
    rng: Random, template: PipelineTemplate, slot: int, runs: int, load: float
) -> list[int]:
    """Log-normal around each job's median; slower as the test suite grows over the history
    and in busy hours (shared machines); one job slower after its slow-down."""
    factor = (1 + template.growth * slot / runs) * (1 + CONTENTION * (load - 1))
    gauss, exp = rng.gauss, math.exp
    durations = [
        int(exp(job.log_median + job.sigma * gauss()) * factor) + 1 for job in template.jobs
    ]
    slowdown = template.slowdown
    if slowdown is not None and slot >= slowdown.from_slot:
        durations[slowdown.job] = int(durations[slowdown.job] * slowdown.factor)
    return durations


def _fail(
    rng: Random,
    template: PipelineTemplate,
    outcome: Outcome,
    durations: list[int],
    statuses: list[Status],
    starts: list[int | None],
    ends: list[int | None],
) -> None:
    """The failing job stops early (or at its time-out); what comes after it never runs."""
    failing = outcome.job
    began = starts[failing]
    assert began is not None
    if outcome.verdict is Verdict.TIMEOUT:
        median = math.exp(template.jobs[failing].log_median)
        statuses[failing] = Status.TIMED_OUT
        ends[failing] = began + max(600, int(median * 4) // 60 * 60)
    else:
        statuses[failing] = Status.FAILURE
        ends[failing] = began + max(1, int(durations[failing] * rng.uniform(0.3, 1.0)))
    failed_stage = template.jobs[failing].stage
    stage = template.stages[failed_stage]
    never_run = [] if stage.parallel else list(stage.jobs[stage.jobs.index(failing) + 1 :])
    never_run += [job for later in template.stages[failed_stage + 1 :] for job in later.jobs]
    for job in never_run:
        statuses[job], starts[job], ends[job] = Status.SKIPPED, None, None


def _cancel(
    start: int,
    fraction: float,
    statuses: list[Status],
    starts: list[int | None],
    ends: list[int | None],
) -> int:
    """A newer push supersedes the attempt part-way: running jobs are cancelled, jobs not yet
    started never will be. Returns when."""
    planned_end = max(end for end in ends if end is not None)
    cancelled_at = start + int((planned_end - start) * fraction)
    for job, (began, finished) in enumerate(zip(starts, ends, strict=True)):
        assert began is not None and finished is not None
        if finished <= cancelled_at:
            continue
        if began <= cancelled_at:
            statuses[job], ends[job] = Status.CANCELLED, cancelled_at
        else:
            statuses[job], starts[job], ends[job] = Status.SKIPPED, None, None
    return cancelled_at


def _in_flight(attempt: Schedule, now: int) -> None:
    """An attempt not finished by now: jobs done keep their verdict, those under way run,
    the rest wait."""
    for job, (began, finished) in enumerate(zip(attempt.starts, attempt.ends, strict=True)):
        if began is None or began > now:
            attempt.statuses[job], attempt.starts[job], attempt.ends[job] = (
                Status.QUEUED,
                None,
                None,
            )
        elif finished is None or finished > now:
            attempt.statuses[job], attempt.ends[job] = Status.RUNNING, None
    started = any(began is not None for began in attempt.starts)
    attempt.status = Status.RUNNING if started else Status.QUEUED
    attempt.end = None
