"""Scheduled attempts as each CI system would report them.

Scheduled attempts as domain objects, the way each CI system reports them: a RunWatch
attempt with its jobs and the provider's run and job URLs (GitHub, GitLab, CircleCI; their
jobs with the queue time and the runner their sources give), or a Jenkins run as the Trunk
plugin sends it (the run, and its stages and steps as a tree of detached spans, with custom
metrics and tags)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from random import Random

from cipulse.demo.blueprints import Produces
from cipulse.demo.layout import PipelineTemplate, StageTemplate
from cipulse.demo.runners import Pool, pool_of, runner_of
from cipulse.demo.scheduling import Schedule
from cipulse.domain.changes import NO_CHANGE, Change
from cipulse.domain.model import (
    DetachedSpan,
    JobSpan,
    RunAttempt,
    RunKeyScope,
    SourceFormat,
    Submission,
    TagValue,
)
from cipulse.domain.runners import NO_RUNNER, Runner
from cipulse.domain.status import STATUS_TEXT, Status

INGEST_SOURCE = "cipulse-demo"
#: Job ids grow with the run: ``base + (slot * 2 + attempt - 1) * 32 + job index``.
JOB_ID_BASES = {"github": 25_300_000_000, "gitlab": 6_800_000_000, "circleci": 400_000}
#: The providers that give a job's queue time (``queue_seconds``): GitHub's and GitLab's
#: webhooks, CircleCI's API v2 (a job's ``queued_at`` before its ``started_at``).
QUEUE_PROVIDERS = frozenset({"github", "gitlab", "circleci"})
MAX_JOBS_PER_ATTEMPT = 32
UNFINISHED = (Status.RUNNING, Status.QUEUED)


@dataclass(frozen=True, slots=True)
class Context:
    """Who ran what where: the same for every attempt of a run."""

    branch: str
    triggered_by: str
    actor: str
    headline: str
    change: Change = NO_CHANGE


def uuid_from(rng: Random) -> str:
    """A random (version 4) UUID drawn from ``rng``, so that it is reproducible."""
    digits = f"{rng.getrandbits(128):032x}"
    return f"{digits[:8]}-{digits[8:12]}-4{digits[13:16]}-a{digits[17:20]}-{digits[20:]}"


class Reporter:
    """Builds the domain objects of one chunk. ``shift`` moves every time (epoch seconds) to
    where the history ends; a run's ``progress`` (0 to 1) is how far into the history it is."""

    def __init__(self, rng: Random, shift: int) -> None:
        self.rng = rng
        self.shift = shift
        self._pools: dict[int, tuple[Pool | None, ...]] = {}

    def _pools_of(self, template: PipelineTemplate) -> tuple[Pool | None, ...]:
        """The runner pool each job of ``template`` asks for (computed once a template)."""
        found = self._pools.get(id(template))
        if found is None:
            provider = template.provider
            found = tuple(pool_of(provider, job.definition_key) for job in template.jobs)
            self._pools[id(template)] = found
        return found

    def _moment(self, epoch: int | None) -> datetime | None:
        return None if epoch is None else datetime.fromtimestamp(epoch + self.shift, UTC)

    def runwatch_attempt(
        self,
        template: PipelineTemplate,
        slot: int,
        attempt: int,
        context: Context,
        schedule: Schedule,
    ) -> RunAttempt:
        run_id = template.run_id_base + slot
        run_url, job_url = self._urls(template, run_id, attempt)
        job_id_base = (
            JOB_ID_BASES[template.provider] + (slot * 2 + attempt - 1) * MAX_JOBS_PER_ATTEMPT
        )
        spans, compute = self._runwatch_jobs(template, schedule, job_id_base, job_url)
        finished_attempt = schedule.end is not None
        return RunAttempt(
            repository=template.repository,
            pipeline=template.pipeline,
            run_key=str(run_id),
            run_key_scope=RunKeyScope.PIPELINE,
            attempt=attempt,
            status=schedule.status,
            raw_status=STATUS_TEXT[schedule.status],
            provider=template.provider,
            source_format=SourceFormat.RUNWATCH,
            started_at=self._moment(schedule.start),
            completed_at=self._moment(schedule.end),
            duration_seconds=_seconds(schedule.start, schedule.end),
            compute_seconds=float(compute) if finished_attempt else None,
            run_number=run_id,
            run_name=context.headline,
            run_url=run_url,
            triggered_by=context.triggered_by,
            actor=context.actor,
            branch=context.branch,
            change=context.change,
            jobs=spans,
            jobs_are_snapshot=True,
        )

    def _runwatch_jobs(
        self, template: PipelineTemplate, schedule: Schedule, job_id_base: int, job_url: str
    ) -> tuple[list[JobSpan], int]:
        """An attempt's jobs as RunWatch reports them, and their compute seconds."""
        # The hot loop (ten jobs a run, millions of runs): locals, no helper calls.
        fromtimestamp, shift = datetime.fromtimestamp, self.shift
        spans = []
        compute = 0
        # The sources give each job that started its queue time.
        waits = schedule.job_queue_seconds if template.provider in QUEUE_PROVIDERS else ()
        pools = self._pools_of(template)
        for index, (job, status, began, finished) in enumerate(
            zip(template.jobs, schedule.statuses, schedule.starts, schedule.ends, strict=True)
        ):
            job_id = job_id_base + index
            started_at = completed_at = None
            duration = queued = None
            metrics: dict[str, float] = {}
            pool = pools[index]
            if began is not None:
                started_at = fromtimestamp(began + shift, UTC)
                if waits:
                    queued = float(waits[index]) * (pool.wait_factor if pool else 1.0)
                    metrics["queue_seconds"] = queued
                if finished is not None:
                    completed_at = fromtimestamp(finished + shift, UTC)
                    duration = float(finished - began)
                    compute += finished - began
            spans.append(
                JobSpan(
                    node_key=f"id:{job_id}",
                    name=job.name,
                    definition_key=job.definition_key,
                    kind="job",
                    status=status,
                    raw_status=STATUS_TEXT[status],
                    started_at=started_at,
                    completed_at=completed_at,
                    duration_seconds=duration,
                    url=f"{job_url}{job_id}",
                    external_id=str(job_id),
                    metrics=metrics,
                    queue_seconds=queued,
                    runner=runner_of(pool, job_id) if began is not None else NO_RUNNER,
                )
            )
        return spans, compute

    def _urls(self, template: PipelineTemplate, run_id: int, attempt: int) -> tuple[str, str]:
        """The run's URL and the prefix of its jobs' URLs (the job id follows)."""
        repository = template.repository.full_name
        if template.provider == "github":
            run_url = f"https://github.com/{repository}/actions/runs/{run_id}"
            job_url = f"{run_url}/job/"
            return (f"{run_url}/attempts/{attempt}" if attempt > 1 else run_url), job_url
        if template.provider == "gitlab":
            return (
                f"https://gitlab.com/{repository}/-/pipelines/{run_id}",
                f"https://gitlab.com/{repository}/-/jobs/",
            )
        workflow = uuid_from(self.rng)
        run_url = (
            f"https://app.circleci.com/pipelines/github/{repository}/{run_id}/workflows/{workflow}"
        )
        return run_url, f"{run_url}/jobs/"

    def jenkins_run(
        self, template: PipelineTemplate, progress: float, context: Context, schedule: Schedule
    ) -> Submission:
        rng = self.rng
        chain, root = uuid_from(rng), uuid_from(rng)
        agent = f"{template.agent_pool}-{rng.randint(1, 12):02d}"
        nodes: list[JobSpan] = []
        for stage in template.stages:
            nodes += self._stage_nodes(template, stage, root, agent, progress, schedule)
        runner = Runner.of(template.agent_pool, agent)  # the agent that ran every stage
        for node in nodes:
            if node.started_at is not None:
                node.runner = runner
        status = schedule.status
        run = RunAttempt(
            repository=template.repository,
            pipeline=template.pipeline,
            run_key=chain,
            run_key_scope=RunKeyScope.REPOSITORY,
            attempt=1,
            # Trunk knows no queue: an event without a conclusion is running.
            status=Status.RUNNING if status in UNFINISHED else status,
            raw_status=None if status in UNFINISHED else _conclusion(status),
            provider=template.provider,
            source_format=SourceFormat.TRUNK,
            started_at=self._moment(schedule.start),
            completed_at=self._moment(schedule.end),
            duration_seconds=_seconds(schedule.start, schedule.end),
            branch=context.branch,
            change=context.change,
            root_node_key=root,
            tags={
                "runner": template.runner,
                "agent_pool": template.agent_pool,
                "branch": context.branch,
                "trigger": context.triggered_by,
            },
            metrics=self._run_metrics(nodes, progress, schedule),
            jobs=[],
            jobs_are_snapshot=False,
            queue_seconds=float(schedule.queue_seconds),
        )
        return Submission(
            attempts=[run],
            detached_spans=[
                DetachedSpan(repository=template.repository, run_key=chain, span=node)
                for node in nodes
            ],
            ingest_source=INGEST_SOURCE,
        )

    def _stage_nodes(
        self,
        template: PipelineTemplate,
        stage: StageTemplate,
        root: str,
        agent: str,
        progress: float,
        schedule: Schedule,
    ) -> list[JobSpan]:
        """A stage and its steps; nothing for a stage not reached yet (the plugin has sent
        nothing about it), the stage alone when it was skipped after an earlier failure."""
        steps = [job for job in stage.jobs if schedule.starts[job] is not None]
        status = _stage_status([schedule.statuses[job] for job in stage.jobs])
        span = _stage_span(steps, status, schedule)
        if span is None:
            return []
        began, finished = span
        stage_key = uuid_from(self.rng)
        tags: dict[str, TagValue] = {"agent": agent}
        nodes = [
            self._node(
                key=stage_key,
                parent=root,
                name=stage.name,
                definition_key=stage.definition_key,
                kind="stage",
                status=status,
                began=began,
                finished=finished,
                tags=tags,
                metrics={},
            )
        ]
        for job in steps:
            step, step_status = template.jobs[job], schedule.statuses[job]
            nodes.append(
                self._node(
                    key=uuid_from(self.rng),
                    parent=stage_key,
                    name=step.name,
                    definition_key=step.definition_key,
                    kind="step",
                    status=step_status,
                    began=schedule.starts[job],
                    finished=schedule.ends[job],
                    tags=tags,
                    metrics=self._step_metrics(step.produces, step_status, progress),
                )
            )
        return nodes

    def _node(
        self,
        *,
        key: str,
        parent: str,
        name: str,
        definition_key: str,
        kind: str,
        status: Status,
        began: int | None,
        finished: int | None,
        tags: dict[str, TagValue],
        metrics: dict[str, float],
    ) -> JobSpan:
        unfinished = status in UNFINISHED
        return JobSpan(
            node_key=key,
            name=name,
            definition_key=definition_key,
            kind=kind,
            status=Status.RUNNING if unfinished else status,
            raw_status=None if unfinished else _conclusion(status),
            started_at=self._moment(began),
            completed_at=self._moment(finished),
            duration_seconds=_seconds(began, finished),
            parent_node_key=parent,
            tags=dict(tags),
            metrics=metrics,
        )

    def _step_metrics(
        self, produces: Produces, status: Status, progress: float
    ) -> dict[str, float]:
        """Test steps count their tests (more as the suite grows), build steps their cache."""
        rng = self.rng
        if produces is Produces.TESTS and status in (Status.SUCCESS, Status.FAILURE):
            tests = float(int(800 + 1200 * progress) + rng.randint(0, 40))
            failed = float(rng.randint(1, 6)) if status is Status.FAILURE else 0.0
            return {"test_count": tests, "failed_tests": failed}
        if produces is Produces.CACHE and status is Status.SUCCESS:
            return {"cache_hit_ratio": round(rng.uniform(0.4, 0.99), 3)}
        return {}

    def _run_metrics(
        self, nodes: list[JobSpan], progress: float, schedule: Schedule
    ) -> dict[str, float]:
        """The run's own metrics sum up its steps'; coverage creeps up over the history."""
        metrics = {"queue_seconds": float(schedule.queue_seconds)}
        caches = [
            node.metrics["cache_hit_ratio"] for node in nodes if "cache_hit_ratio" in node.metrics
        ]
        if caches:
            metrics["cache_hit_ratio"] = round(sum(caches) / len(caches), 3)
        tests = sum(node.metrics.get("test_count", 0.0) for node in nodes)
        if tests:
            metrics["test_count"] = tests
            metrics["coverage_percent"] = round(68 + 20 * progress + self.rng.uniform(-1.5, 1.5), 1)
        return metrics


def _seconds(began: int | None, finished: int | None) -> float | None:
    return None if began is None or finished is None else float(finished - began)


def _stage_span(
    steps: list[int], status: Status, schedule: Schedule
) -> tuple[int, int | None] | None:
    """When a stage began and finished: around its ``steps`` that started (a second before
    the first, a second after the last, unfinished while one is), else at the run's end for
    a stage skipped in a finished run; ``None`` for a stage not reached yet."""
    if steps:
        began = min(schedule.starts[job] or 0 for job in steps) - 1
        step_ends = [schedule.ends[job] for job in steps]
        return began, None if None in step_ends else max(end or 0 for end in step_ends) + 1
    if status is Status.SKIPPED and schedule.end is not None:
        return schedule.end, schedule.end
    return None


def _stage_status(statuses: list[Status]) -> Status:
    """A stage is as bad as its worst step; skipped when none of them ran."""
    for status in (
        Status.RUNNING,
        Status.QUEUED,
        Status.FAILURE,
        Status.TIMED_OUT,
        Status.CANCELLED,
        Status.SUCCESS,
    ):
        if status in statuses:
            return status
    return Status.SKIPPED


def _conclusion(status: Status) -> str:
    """The Trunk conclusion the plugin sends for ``status``."""
    return STATUS_TEXT[status].upper()
