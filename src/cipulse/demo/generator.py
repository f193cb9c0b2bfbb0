"""The demo history as domain Submissions, one per run.

The demo history as domain ``Submission``s: one per run, holding its attempts (a retried
run has two) or, for a Jenkins run, the run and its stages and steps as detached spans, the
way the Trunk converter delivers them.

Pure and deterministic. The history is cut into chunks of ``CHUNK_RUNS`` run attempts, and
each chunk is drawn from its own random source, seeded by (seed, chunk index): a worker
process needs only the plan and the index. The history is generated against the whole hour
``now`` falls in and then moved to end at ``now``, so seeding again within the hour yields the
same runs, and later the same runs moved in time (runs near the end may then have finished,
or been retried)."""

from __future__ import annotations

import functools
import math
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from random import Random

from cipulse.demo.catalog import BRANCH_PREFIXES, BUMPED_PACKAGES
from cipulse.demo.changes import DEFAULT_BRANCH, ChangeMaker, sentence, topic_of
from cipulse.demo.layout import Layout, PipelineTemplate, build_layout
from cipulse.demo.reporting import INGEST_SOURCE, Context, Reporter
from cipulse.demo.scheduling import SUCCESS, Outcome, Schedule, Verdict, schedule
from cipulse.demo.test_reports import DemoReport, report_of
from cipulse.demo.test_suites import Suite, suite_key, suites
from cipulse.demo.timeline import DAY, HOUR, Timeline
from cipulse.domain.model import Submission

CHUNK_RUNS = 1000
#: Feature branches live for about this many days.
BRANCH_LIFETIME_DAYS = 4
ACTIVE_BRANCHES_PER_REPOSITORY = 8
#: Chances that a failed run is run again: a flaky failure mostly is, a real one seldom.
RETRY_AFTER_FLAKE = 0.8
RETRY_AFTER_FAILURE = 0.15
RETRY_ON_RED_MAIN = 0.3
#: Seconds (median) before someone runs a failed run again.
RETRY_DELAY_SECONDS = 240
DEPENDENCY_BOT_SHARE = 0.08
TIMEOUT_SHARE_OF_FAILURES = 0.04
MANUAL_CANCEL_RATE = 0.005


@dataclass(frozen=True, slots=True)
class DemoPlan:
    """What to generate: ``runs`` run attempts over the ``days`` before ``now``."""

    runs: int
    days: int
    now: datetime
    seed: int = 42

    def __post_init__(self) -> None:
        if self.runs < 1 or self.days < 1:
            raise ValueError("a demo history has at least one run and one day")
        if self.now.tzinfo is None:
            raise ValueError("now must be an aware datetime")

    @property
    def end(self) -> int:
        """The whole hour the history is generated against (epoch seconds)."""
        return int(self.now.timestamp()) // HOUR * HOUR

    @property
    def shift(self) -> int:
        """Seconds that move the generated history to end at ``now``."""
        return int(self.now.timestamp()) - self.end

    @property
    def chunk_count(self) -> int:
        return math.ceil(self.runs / CHUNK_RUNS)

    def chunk_slots(self, index: int) -> range:
        return range(index * CHUNK_RUNS, min((index + 1) * CHUNK_RUNS, self.runs))


@functools.lru_cache(maxsize=4)
def _world(seed: int, runs: int, days: int, end: int) -> tuple[Layout, Timeline]:
    """Built once per process and plan: every chunk of a plan shares it."""
    return build_layout(seed, runs, days), Timeline(end, days)


def layout_of(plan: DemoPlan) -> Layout:
    return _world(plan.seed, plan.runs, plan.days, plan.end)[0]


def history(plan: DemoPlan) -> Iterator[Submission]:
    """Every run of the plan, oldest chunk first."""
    for index in range(plan.chunk_count):
        yield from generate_chunk(plan, index)


def generate_chunk(plan: DemoPlan, index: int) -> list[Submission]:
    """The runs of chunk ``index``: exactly ``len(plan.chunk_slots(index))`` run attempts."""
    return generate_chunk_with_tests(plan, index)[0]


def generate_chunk_with_tests(
    plan: DemoPlan, index: int
) -> tuple[list[Submission], list[DemoReport]]:
    """The runs of chunk ``index`` and the JUnit reports of its tested pipelines."""
    layout, timeline = _world(plan.seed, plan.runs, plan.days, plan.end)
    generator = _ChunkGenerator(plan, layout, timeline, index)
    return generator.runs(), generator.test_reports


def attempt_count(submissions: list[Submission]) -> int:
    return sum(len(s.attempts) for s in submissions)


def job_count(submissions: list[Submission]) -> int:
    return sum(len(a.jobs) for s in submissions for a in s.attempts) + sum(
        len(s.detached_spans) for s in submissions
    )


class _ChunkGenerator:
    """Decides what happens in each run of a chunk (pipeline, time, branch, person, outcome,
    retry); ``scheduling`` lays its jobs out in time, ``reporting`` makes domain objects."""

    def __init__(self, plan: DemoPlan, layout: Layout, timeline: Timeline, index: int) -> None:
        self.plan = plan
        self.layout = layout
        self.timeline = timeline
        self.slots = plan.chunk_slots(index)
        self.rng = Random(f"cipulse-demo:{plan.seed}:chunk:{index}")
        self.reporter = Reporter(self.rng, plan.shift)
        self.end = plan.end
        self.branch_periods = max(1, plan.days // BRANCH_LIFETIME_DAYS)
        self.changes = ChangeMaker(plan.seed, index, layout, self.branch_periods)
        self.suites = suites(layout)
        self.test_reports: list[DemoReport] = []

    def runs(self) -> list[Submission]:
        submissions = []
        slot, stop = self.slots.start, self.slots.stop
        while slot < stop:
            submission = self._run(slot, stop - slot)
            submissions.append(submission)
            slot += max(1, len(submission.attempts))
        return submissions

    def _run(self, slot: int, room: int) -> Submission:
        rng = self.rng
        position = (slot + rng.random()) / self.plan.runs
        template = self.layout.pick(rng.random())
        start, load = self.timeline.at(position)
        if template.kind.scheduled:
            start = self._scheduled_start(template, start)
        context = self._context(template, position, start, slot)
        on_main = context.branch == DEFAULT_BRANCH
        outcome = self._outcome(template, slot, on_main)
        first = self._schedule(template, slot, start, load, outcome)
        if template.kind.jenkins:
            return self.reporter.jenkins_run(template, position, context, first)
        attempts = [self.reporter.runwatch_attempt(template, slot, 1, context, first)]
        retry = self._retry(template, slot, load, outcome, first) if room >= 2 else None
        if retry is not None:
            attempts.append(self.reporter.runwatch_attempt(template, slot, 2, context, retry))
        suite = self.suites.get(suite_key(template))
        if suite is not None:
            self._test_reports(suite, template, slot, outcome, first, retry)
        return Submission(attempts=attempts, ingest_source=INGEST_SOURCE)

    def _test_reports(
        self,
        suite: Suite,
        template: PipelineTemplate,
        slot: int,
        outcome: Outcome,
        first: Schedule,
        retry: Schedule | None,
    ) -> None:
        """The JUnit reports of a tested pipeline's attempts (``demo/test_reports.py``)."""
        shift = self.plan.shift
        tried = [(1, first, outcome)]
        if retry is not None:
            tried.append((2, retry, SUCCESS if outcome.verdict is Verdict.FLAKE else outcome))
        for attempt, planned, result in tried:
            report = report_of(suite, template, slot, attempt, planned, result, shift)
            if report is not None:
                self.test_reports.append(report)

    # What happens in a run

    def _scheduled_start(self, template: PipelineTemplate, drawn: int) -> int:
        """The last time the nightly schedule fired before the drawn moment."""
        fired = drawn - drawn % DAY + template.cron_hour * HOUR + self.rng.randrange(240)
        if fired > drawn:
            fired -= DAY
        return fired if fired >= self.timeline.start else drawn

    def _context(
        self, template: PipelineTemplate, position: float, start: int, slot: int
    ) -> Context:
        rng, changes = self.rng, self.changes
        if template.kind.scheduled:
            trigger = "schedule" if rng.random() < 0.9 else "workflow_dispatch"
            change = changes.scheduled(template, trigger, start // DAY)
            return Context(
                DEFAULT_BRANCH, trigger, template.team[0], template.pipeline.name, change
            )
        number = self._ticket(position, rng.randrange(ACTIVE_BRANCHES_PER_REPOSITORY))
        topic = topic_of(number)
        if rng.random() < template.main_share:
            trigger = "push" if rng.random() < 0.92 else "workflow_dispatch"
            actor = template.team[
                bisect_right(template.team_weights, rng.random() * template.team_weights[-1])
            ]
            change = changes.on_main(template, trigger, actor, number, slot)
            return Context(DEFAULT_BRANCH, trigger, actor, f"{sentence(topic)} (#{number})", change)
        if rng.random() < DEPENDENCY_BOT_SHARE:
            package = BUMPED_PACKAGES[number % len(BUMPED_PACKAGES)]
            version = f"{number % 9 + 1}.{number % 23}.{number % 7}"
            branch, title = f"dependabot/{package}-{version}", f"Bump {package} to {version}"
            trigger, actor = "pull_request", template.dependency_bot
        else:
            trigger = "pull_request" if rng.random() < 0.8 else "push"
            prefix = BRANCH_PREFIXES[number % len(BRANCH_PREFIXES)]
            branch = f"{prefix}/{template.ticket_prefix}-{number}-{topic}"
            # A branch belongs to one person.
            actor, title = template.team[number % len(template.team)], sentence(topic)
        change = changes.on_branch(template, branch, trigger, actor, title, number, position)
        return Context(branch, trigger, actor, title, change)

    def _ticket(self, position: float, active: int) -> int:
        """Branches are numbered by the few days they live in: runs in the same days reuse
        the same few branches, as pushes to an open pull request do."""
        period = int(position * self.branch_periods)
        return 100 + period * ACTIVE_BRANCHES_PER_REPOSITORY + active

    def _outcome(self, template: PipelineTemplate, slot: int, on_main: bool) -> Outcome:
        rng = self.rng
        if on_main:
            red = template.red_period_at(slot)
            if red is not None:
                return Outcome(Verdict.FAILURE, job=red.job, on_red_main=True)
        rate = template.failure_rate_main if on_main else template.failure_rate_branch
        if rng.random() < rate:
            weights = template.failure_weights
            job = min(bisect_right(weights, rng.random() * weights[-1]), len(weights) - 1)
            timeout = rng.random() < TIMEOUT_SHARE_OF_FAILURES
            return Outcome(Verdict.TIMEOUT if timeout else Verdict.FAILURE, job=job)
        for job in template.flaky_jobs:
            if rng.random() < template.jobs[job].flake_rate:
                return Outcome(Verdict.FLAKE, job=job)
        cancel_rate = MANUAL_CANCEL_RATE if on_main else template.cancel_rate
        if rng.random() < cancel_rate:
            return Outcome(Verdict.CANCEL, fraction=rng.uniform(0.1, 0.9))
        return SUCCESS

    def _retry(
        self,
        template: PipelineTemplate,
        slot: int,
        load: float,
        outcome: Outcome,
        first: Schedule,
    ) -> Schedule | None:
        """Attempt 2 of a failed run, some minutes after attempt 1, if it fits before now:
        a flaky failure passes, a real one fails again."""
        if first.end is None or not outcome.failed:
            return None
        if outcome.verdict is Verdict.FLAKE:
            chance = RETRY_AFTER_FLAKE
        else:
            chance = RETRY_ON_RED_MAIN if outcome.on_red_main else RETRY_AFTER_FAILURE
        if self.rng.random() >= chance:
            return None
        start = first.end + int(self.rng.lognormvariate(math.log(RETRY_DELAY_SECONDS), 0.8))
        if start > self.end:
            return None
        again = SUCCESS if outcome.verdict is Verdict.FLAKE else outcome
        return self._schedule(template, slot, start, load, again)

    def _schedule(
        self, template: PipelineTemplate, slot: int, start: int, load: float, outcome: Outcome
    ) -> Schedule:
        return schedule(self.rng, template, slot, self.plan.runs, start, load, outcome, self.end)
