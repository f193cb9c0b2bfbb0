"""The demo organisation drawn from a seed: repositories, pipelines.

The demo organisation drawn from a seed: repositories, their pipelines with a fixed job set
each, and each pipeline's character (how busy, how reliable, which jobs are flaky, when its
default branch is red, which job got slower).

A history is ``runs`` slots long; slot ``i`` is the ``i``-th run attempt in time. Red periods
and slow-downs are ranges of slots rather than of time, so that what happens to a run does not
depend on the clock: seeding again later yields the same runs, moved in time."""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass, replace
from itertools import accumulate
from random import Random

from cipulse.demo import blueprints
from cipulse.demo.blueprints import PipelineKind, Produces, StageBlueprint
from cipulse.demo.catalog import (
    ACTORS,
    COMPONENTS,
    DEPENDENCY_BOTS,
    OWNERS,
    PROVIDER_SHARES,
    SYSTEMS,
    TICKET_PREFIXES,
)
from cipulse.domain.model import PipelineRef, RepositoryRef

MAX_PIPELINES = 200
MIN_PIPELINES = 3
#: One pipeline per this many runs, between the bounds above.
RUNS_PER_PIPELINE = 1000
PIPELINES_PER_REPOSITORY = 4
JENKINS_SHARE = 0.05
#: The label a Jenkins pipeline's agents carry (the demo's rates price each).
JENKINS_AGENT_POOLS = ("linux-large", "linux-medium", "docker")
#: Nightly pipelines run about this often a day (the schedule plus manual runs).
SCHEDULED_RUNS_PER_DAY = 1.2
#: Run ids start here for each provider: GitHub run ids are large, CircleCI pipeline numbers
#: small. The slot is added, so run keys are unique per pipeline.
RUN_ID_BASES = {"github": 9_100_000_000, "gitlab": 1_420_000_000, "circleci": 20_000}


@dataclass(frozen=True, slots=True)
class JobTemplate:
    name: str
    definition_key: str
    stage: int
    log_median: float
    sigma: float
    failure_weight: float
    #: Chance that this job fails at random in a run (0 unless it is one of the flaky ones).
    flake_rate: float
    produces: Produces


@dataclass(frozen=True, slots=True)
class StageTemplate:
    name: str
    definition_key: str
    jobs: tuple[int, ...]
    parallel: bool


@dataclass(frozen=True, slots=True)
class RedPeriod:
    """Slots during which every default-branch run of the pipeline fails at ``job``, until
    someone fixes it."""

    first_slot: int
    end_slot: int
    job: int


@dataclass(frozen=True, slots=True)
class Slowdown:
    """From ``from_slot`` on, ``job`` takes ``factor`` times longer (a regression to find)."""

    job: int
    from_slot: int
    factor: float


@dataclass(frozen=True, slots=True)
class PipelineTemplate:
    kind: PipelineKind
    provider: str
    repository: RepositoryRef
    pipeline: PipelineRef
    stages: tuple[StageTemplate, ...]
    jobs: tuple[JobTemplate, ...]
    main_share: float
    failure_rate_main: float
    failure_rate_branch: float
    cancel_rate: float
    failure_weights: tuple[float, ...]  # cumulative, over ``jobs``
    flaky_jobs: tuple[int, ...]
    red_periods: tuple[RedPeriod, ...]  # in slot order, not overlapping
    red_period_starts: tuple[int, ...]
    slowdown: Slowdown | None
    #: Durations grow by this fraction over the history (the test suite grows).
    growth: float
    team: tuple[str, ...]
    team_weights: tuple[float, ...]  # cumulative
    dependency_bot: str
    ticket_prefix: str
    run_id_base: int
    cron_hour: int
    runner: str
    agent_pool: str

    @property
    def repository_name(self) -> str:
        return self.repository.full_name.rsplit("/", 1)[-1]

    def red_period_at(self, slot: int) -> RedPeriod | None:
        index = bisect_right(self.red_period_starts, slot) - 1
        if index >= 0 and slot < self.red_periods[index].end_slot:
            return self.red_periods[index]
        return None


@dataclass(frozen=True, slots=True)
class Layout:
    pipelines: tuple[PipelineTemplate, ...]
    cumulative_weights: tuple[float, ...]

    def pick(self, position: float) -> PipelineTemplate:
        """The pipeline a run belongs to, for ``position`` uniform in ``[0, 1)``."""
        index = bisect_right(self.cumulative_weights, position * self.cumulative_weights[-1])
        return self.pipelines[min(index, len(self.pipelines) - 1)]

    @property
    def repositories(self) -> set[RepositoryRef]:
        return {p.repository for p in self.pipelines}


def pipeline_count(runs: int) -> int:
    return max(MIN_PIPELINES, min(MAX_PIPELINES, runs // RUNS_PER_PIPELINE))


def _slug(text: str) -> str:
    return "-".join("".join(c if c.isalnum() else " " for c in text.lower()).split())


def _cumulative(weights: list[float]) -> tuple[float, ...]:
    return tuple(accumulate(weights))


def _weighted(rng: Random, choices: tuple[tuple[str, float], ...]) -> str:
    names = [name for name, _ in choices]
    return rng.choices(names, weights=[weight for _, weight in choices])[0]


@dataclass(frozen=True, slots=True)
class _Repository:
    ref: RepositoryRef
    provider: str
    component: str


def _repositories(rng: Random, count: int) -> list[_Repository]:
    names = [(system, component) for system in SYSTEMS for component in COMPONENTS]
    rng.shuffle(names)
    repositories = []
    for index in range(count):
        system, component = names[index % len(names)]
        suffix = f"-{index // len(names) + 1}" if index >= len(names) else ""
        provider = _weighted(rng, PROVIDER_SHARES)
        host, owner = OWNERS[provider]
        ref = RepositoryRef(host, f"{owner}/{system}-{component}{suffix}")
        repositories.append(_Repository(ref, provider, component))
    return repositories


def _kinds(
    rng: Random, repositories: list[_Repository], count: int
) -> list[tuple[int, PipelineKind]]:
    """(repository index, kind) of every pipeline: each repository has its CI (a mobile build
    for apps), about one in twenty pipelines is a Jenkins one, the rest deploy, scan, document
    or run nightly."""
    chosen = [
        (index, blueprints.MOBILE if repository.component == "app" else blueprints.CI)
        for index, repository in enumerate(repositories)
    ]
    jenkins = min(max(1, round(count * JENKINS_SHARE)), count - len(chosen))
    for index in rng.sample(range(len(repositories)), min(jenkins, len(repositories))):
        chosen.append((index, blueprints.JENKINS))
    order = list(range(len(repositories)))
    rng.shuffle(order)
    turn = 0
    while len(chosen) < count:
        index = order[turn % len(order)]
        turn += 1
        present = {kind for owner, kind in chosen if owner == index}
        extras = [(k, w) for k, w in blueprints.EXTRA_KINDS if k not in present]
        extras = extras or list(blueprints.EXTRA_KINDS)
        kind = rng.choices([k for k, _ in extras], [w for _, w in extras])[0]
        chosen.append((index, kind))
    return chosen


def _pipeline_ref(
    kind: PipelineKind, repository: _Repository, index: int, taken: set[str]
) -> PipelineRef:
    name = kind.name
    variant = 2
    while name in taken:
        name = f"{kind.name} ({variant})"
        variant += 1
    taken.add(name)
    short = repository.ref.full_name.rsplit("/", 1)[-1]
    if kind.jenkins:
        return PipelineRef(key=f"{short}/{_slug(name)}", name=f"{short} » {name}")
    if repository.provider == "github":
        return PipelineRef(key=str(61_240_000 + index * 137), name=name)
    return PipelineRef(key=_slug(name), name=name)


def _jobs(
    rng: Random, stages: tuple[StageBlueprint, ...], pipeline: PipelineRef, jenkins: bool
) -> tuple[tuple[StageTemplate, ...], tuple[JobTemplate, ...]]:
    scale = rng.lognormvariate(0, 0.35)
    templates: list[StageTemplate] = []
    jobs: list[JobTemplate] = []
    for stage_index, stage in enumerate(stages):
        stage_key = f"{pipeline.key}/{stage.name}"
        indices = []
        for job in stage.jobs:
            indices.append(len(jobs))
            median = job.median_seconds * scale * rng.lognormvariate(0, 0.15)
            jobs.append(
                JobTemplate(
                    name=job.name,
                    definition_key=f"{stage_key}/{job.name}" if jenkins else job.name,
                    stage=stage_index,
                    log_median=math.log(max(median, 2.0)),
                    sigma=job.sigma,
                    failure_weight=job.failure_weight,
                    flake_rate=0.0,
                    produces=job.produces,
                )
            )
        templates.append(StageTemplate(stage.name, stage_key, tuple(indices), stage.parallel))
    return tuple(templates), tuple(jobs)


def _with_flaky_jobs(
    rng: Random, jobs: tuple[JobTemplate, ...], flaky_names: set[str]
) -> tuple[tuple[JobTemplate, ...], tuple[int, ...]]:
    candidates = [i for i, job in enumerate(jobs) if job.name in flaky_names]
    flaky = sorted(rng.sample(candidates, min(len(candidates), rng.randint(1, 2))))
    updated = list(jobs)
    for index in flaky:
        updated[index] = replace(jobs[index], flake_rate=rng.uniform(0.01, 0.05))
    return tuple(updated), tuple(flaky)


def _red_periods(
    rng: Random, runs: int, days: int, main_runs_per_slot: float, failure_weights: tuple[float, ...]
) -> tuple[RedPeriod, ...]:
    """About one red period every fortnight (at least one), each long enough for a few
    default-branch runs to fail in a row."""
    if main_runs_per_slot <= 0:
        return ()
    count = 1 + int(days / 14 * rng.uniform(0.5, 1.5))
    periods: list[RedPeriod] = []
    for _ in range(count):
        failing_runs = rng.randint(3, 8)
        length = min(int(failing_runs / main_runs_per_slot) + 1, max(1, runs // 4))
        first = rng.randrange(max(1, runs - length))
        job = bisect_right(failure_weights, rng.random() * failure_weights[-1])
        candidate = RedPeriod(first, first + length, min(job, len(failure_weights) - 1))
        if all(
            candidate.end_slot <= p.first_slot or candidate.first_slot >= p.end_slot
            for p in periods
        ):
            periods.append(candidate)
    return tuple(sorted(periods, key=lambda p: p.first_slot))


def _shares(rng: Random, kinds: list[PipelineKind], runs: int, days: int) -> list[float]:
    """Each pipeline's share of the runs: nightly ones about one run a day, the others by
    the popularity of their kind, some much busier than others."""
    scheduled = min(0.03, days * SCHEDULED_RUNS_PER_DAY / runs)
    busy = [kind.popularity * rng.lognormvariate(0, 0.7) for kind in kinds]
    left = (1 - scheduled * sum(kind.scheduled for kind in kinds)) / sum(busy)
    return [
        scheduled if kind.scheduled else weight * left
        for kind, weight in zip(kinds, busy, strict=True)
    ]


def _slowdown(rng: Random, runs: int, jobs: int) -> Slowdown | None:
    """Three pipelines in ten have a job that got slower at some point (not too early)."""
    if rng.random() >= 0.3:
        return None
    first = runs // 4
    return Slowdown(
        job=rng.randrange(jobs),
        from_slot=rng.randrange(first, max(first + 1, runs - runs // 10)),
        factor=rng.uniform(1.3, 1.8),
    )


def _pipeline(
    rng: Random,
    index: int,
    repository: _Repository,
    kind: PipelineKind,
    share: float,
    runs: int,
    days: int,
    taken_names: set[str],
) -> PipelineTemplate:
    pipeline = _pipeline_ref(kind, repository, index, taken_names)
    stage_blueprints = kind.build(rng)
    stages, jobs = _jobs(rng, stage_blueprints, pipeline, kind.jenkins)
    flaky_names = {job.name for stage in stage_blueprints for job in stage.jobs if job.flaky}
    jobs, flaky = _with_flaky_jobs(rng, jobs, flaky_names)
    failure_weights = _cumulative([job.failure_weight for job in jobs])
    team = tuple(rng.sample(ACTORS, rng.randint(5, 14)))
    provider = "jenkins" if kind.jenkins else repository.provider
    red_periods = _red_periods(rng, runs, days, share * kind.main_share, failure_weights)
    return PipelineTemplate(
        kind=kind,
        provider=provider,
        repository=repository.ref,
        pipeline=pipeline,
        stages=stages,
        jobs=jobs,
        main_share=kind.main_share,
        failure_rate_main=rng.uniform(0.01, 0.04),
        failure_rate_branch=rng.uniform(0.05, 0.15),
        cancel_rate=rng.uniform(0.05, 0.12),
        failure_weights=failure_weights,
        flaky_jobs=flaky,
        red_periods=red_periods,
        red_period_starts=tuple(period.first_slot for period in red_periods),
        slowdown=_slowdown(rng, runs, len(jobs)),
        growth=rng.uniform(0.0, 0.25),
        team=team,
        # A few people push most of the time.
        team_weights=_cumulative([1 / (rank + 1) for rank in range(len(team))]),
        dependency_bot=DEPENDENCY_BOTS[repository.provider],
        ticket_prefix=rng.choice(TICKET_PREFIXES),
        run_id_base=RUN_ID_BASES.get(provider, 0),
        cron_hour=rng.choice((1, 2, 3, 4, 5)),
        runner=rng.choice(("self-hosted", "ubuntu-22.04")),
        agent_pool=rng.choice(JENKINS_AGENT_POOLS),
    )


def build_layout(seed: int, runs: int, days: int) -> Layout:
    """The organisation for a history of ``runs`` run attempts over ``days`` days."""
    rng = Random(f"cipulse-demo:{seed}:layout")
    count = pipeline_count(runs)
    repositories = _repositories(rng, math.ceil(count / PIPELINES_PER_REPOSITORY))
    placed = _kinds(rng, repositories, count)
    shares = _shares(rng, [kind for _, kind in placed], runs, days)
    names: dict[int, set[str]] = {}
    pipelines = tuple(
        _pipeline(
            rng, index, repositories[owner], kind, share, runs, days, names.setdefault(owner, set())
        )
        for index, ((owner, kind), share) in enumerate(zip(placed, shares, strict=True))
    )
    return Layout(pipelines, _cumulative(shares))
