"""``cipulse demo seed``: a generator that is deterministic and looks like CI, and a seed that
stores it through the bulk ingest path into real databases, idempotently."""

from __future__ import annotations

import functools
import shutil
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cipulse.cli.main import cli
from cipulse.demo.generator import DemoPlan, generate_chunk, history, job_count
from cipulse.demo.layout import JENKINS_AGENT_POOLS, build_layout
from cipulse.demo.rates import DEMO_RATES
from cipulse.demo.runners import POOLS
from cipulse.domain.billing import rate_for
from cipulse.domain.changes import EventKind
from cipulse.domain.model import RunAttempt, RunKeyScope, SourceFormat, Submission
from cipulse.domain.status import Status
from cipulse.settings import Settings
from cipulse.storage.database import Database
from tests.conftest import count, rows

NOW = datetime(2026, 3, 4, 15, 37, 12, tzinfo=UTC)
DAYS = 30
SMALL = DemoPlan(runs=2000, days=DAYS, now=NOW, seed=42)
FINISHED = {Status.SUCCESS, Status.FAILURE, Status.CANCELLED, Status.TIMED_OUT}


@functools.cache
def small_history() -> list[Submission]:
    return list(history(SMALL))


def attempts(submissions: Iterable[Submission]) -> list[RunAttempt]:
    return [attempt for submission in submissions for attempt in submission.attempts]


def longest_red_streak_on_main(runs: Iterable[tuple[str, str | None, int, int, str]]) -> int:
    """Most consecutive failed first attempts on ``main`` of one pipeline, from (pipeline,
    branch, attempt, started, status) tuples."""
    by_pipeline: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for pipeline, branch, attempt, started, status in runs:
        if branch == "main" and attempt == 1 and status in FINISHED:
            by_pipeline[pipeline].append((started, status))
    longest = 0
    for statuses in by_pipeline.values():
        streak = 0
        for _, status in sorted(statuses):
            streak = streak + 1 if status == Status.FAILURE else 0
            longest = max(longest, streak)
    return longest


def seed(settings: Settings, *args: str) -> Result:
    return CliRunner().invoke(
        cli,
        [
            "--database-url",
            settings.database_url,
            "demo",
            "seed",
            "--runs",
            str(SMALL.runs),
            "--days",
            str(DAYS),
            "--now",
            NOW.strftime("%Y-%m-%d %H:%M:%S"),
            *args,
        ],
        catch_exceptions=False,
    )


# The generator


def test_the_same_seed_gives_the_same_history_and_another_seed_another() -> None:
    again = DemoPlan(runs=SMALL.runs, days=DAYS, now=NOW, seed=42)
    assert build_layout(42, SMALL.runs, DAYS) == build_layout(42, SMALL.runs, DAYS)
    # Chunks do not depend on one another: a worker needs only the plan and the index.
    second = generate_chunk(again, 1)
    assert generate_chunk(again, 0) + second == small_history()
    other = list(history(DemoPlan(runs=SMALL.runs, days=DAYS, now=NOW, seed=43)))
    assert attempts(other) != attempts(small_history())


def test_within_the_hour_the_same_runs_only_move_in_time() -> None:
    later = list(history(DemoPlan(runs=SMALL.runs, days=DAYS, now=NOW + timedelta(minutes=5))))
    assert [(a.run_key, a.attempt, a.status) for a in attempts(later)] == [
        (a.run_key, a.attempt, a.status) for a in attempts(small_history())
    ]
    assert attempts(later)[0].started_at == attempts(small_history())[0].started_at + timedelta(
        minutes=5
    )


def test_runs_fill_the_days_before_now_with_consistent_times() -> None:
    runs = attempts(small_history())
    assert len(runs) == SMALL.runs
    for run in runs:
        assert run.started_at is not None
        assert NOW - timedelta(days=DAYS) <= run.started_at <= NOW
        if run.completed_at is not None:
            assert run.completed_at <= NOW
            assert run.duration_seconds == (run.completed_at - run.started_at).total_seconds()
        for job in run.jobs:
            if job.started_at is not None:
                assert job.started_at >= run.started_at
            if job.completed_at is not None:
                assert job.started_at is not None
                assert job.duration_seconds == (job.completed_at - job.started_at).total_seconds()
        if run.source_format is SourceFormat.RUNWATCH and run.completed_at is not None:
            durations = [job.duration_seconds or 0 for job in run.jobs]
            assert run.compute_seconds == sum(durations)
            assert 5 <= len(run.jobs) <= 20


def test_runs_follow_the_working_week() -> None:
    started = [run.started_at for run in attempts(small_history()) if run.started_at]
    weekend = sum(1 for moment in started if moment.weekday() >= 5)
    night = sum(1 for moment in started if moment.hour < 5)
    # Two days in seven, five hours in twenty-four, if runs were spread evenly.
    assert weekend < len(started) * 2 / 7 / 2
    assert night < len(started) * 5 / 24 / 2
    # Jobs side by side: the wall time of some runs is less than their compute time.
    assert any(
        (run.compute_seconds or 0) > (run.duration_seconds or 0) * 1.5
        for run in attempts(small_history())
    )


def test_the_history_has_failures_cancellations_retries_and_red_streaks() -> None:
    runs = attempts(small_history())
    statuses = Counter(run.status for run in runs)
    assert statuses[Status.SUCCESS] > len(runs) * 0.7
    assert statuses[Status.FAILURE] > 0 and statuses[Status.CANCELLED] > 0
    cancelled = [run for run in runs if run.status is Status.CANCELLED]
    assert sum(run.branch != "main" for run in cancelled) > len(cancelled) * 0.8
    unfinished = [run for run in runs if run.status in (Status.RUNNING, Status.QUEUED)]
    assert all(run.started_at and run.started_at > NOW - timedelta(hours=2) for run in unfinished)
    retried = [s.attempts for s in small_history() if len(s.attempts) == 2]
    assert retried and all(
        first.run_key == second.run_key and (first.attempt, second.attempt) == (1, 2)
        for first, second in retried
    )
    flaky = [
        pair
        for pair in retried
        if (pair[0].status, pair[1].status) == (Status.FAILURE, Status.SUCCESS)
    ]
    assert 0 < len(flaky) < len(retried)
    assert (
        longest_red_streak_on_main(
            (r.pipeline.key, r.branch, r.attempt, int(r.started_at.timestamp()), r.status)
            for r in runs
            if r.started_at
        )
        >= 3
    )
    assert {"push", "pull_request", "workflow_dispatch"} <= {run.triggered_by for run in runs}
    assert len({run.actor for run in runs}) >= 5


def test_runs_carry_commits_pull_requests_authors_and_event_kinds() -> None:
    # Enough runs for a deploy and a nightly pipeline beside the CI ones.
    runs = attempts(history(DemoPlan(runs=5000, days=DAYS, now=NOW, seed=42)))
    changes = [run.change for run in runs]
    assert all(c.commit_sha and len(c.commit_sha) == 40 for c in changes)
    assert all(c.commit_message and c.commit_author and c.event_kind for c in changes)
    kinds = Counter(c.event_kind for c in changes)
    assert {EventKind.PUSH, EventKind.PULL_REQUEST, EventKind.SCHEDULE, EventKind.TAG} <= set(kinds)
    assert kinds[EventKind.PUSH] > kinds[EventKind.TAG] > kinds[EventKind.SCHEDULE]
    # Some commits have several runs (pipelines of one push, reruns, a pull request's head).
    per_commit = Counter(c.commit_sha for c in changes)
    assert len(runs) / 3 < len(per_commit) < len(runs)
    # A few people write most commits.
    authors = Counter(c.commit_author for c in changes).most_common()
    assert len(authors) >= 10 and authors[0][1] > 3 * authors[-1][1]
    pull_requests: dict[tuple[str, int], set[tuple[str | None, str | None]]] = defaultdict(set)
    heads: dict[tuple[str, int], set[str | None]] = defaultdict(set)
    for run, change in zip(runs, changes, strict=True):
        on_main = run.branch == "main"
        assert (change.pull_request_number is None) == (
            on_main or change.event_kind is not EventKind.PULL_REQUEST
        )
        if change.pull_request_number is None:
            continue
        key = (run.repository.full_name, change.pull_request_number)
        pull_requests[key].add((change.pull_request_source_branch, change.pull_request_title))
        heads[key].add(change.commit_sha)
        assert change.pull_request_source_branch == run.branch
        assert change.pull_request_target_branch == "main"
        assert change.pull_request_url and change.pull_request_url.startswith(
            f"https://{run.repository.host}/{run.repository.full_name}/"
        )
        assert change.pull_request_url.endswith(f"/{change.pull_request_number}")
    # A pull request is one branch and title, and most get several pushes.
    assert all(len(facts) == 1 for facts in pull_requests.values())
    assert sum(len(shas) > 1 for shas in heads.values()) > len(heads) / 3


def test_jenkins_runs_come_as_trunk_trees_with_metrics_and_tags() -> None:
    jenkins = [s for s in small_history() if s.attempts[0].source_format is SourceFormat.TRUNK]
    assert jenkins
    for submission in jenkins:
        (run,) = submission.attempts
        assert run.provider == "jenkins" and run.run_key_scope is RunKeyScope.REPOSITORY
        assert not run.jobs_are_snapshot and run.jobs == []
        assert {"runner", "agent_pool", "branch"} <= set(run.tags)
        assert run.tags["branch"] == run.branch
        assert "queue_seconds" in run.metrics
        stages = {d.span.node_key for d in submission.detached_spans if d.span.kind == "stage"}
        for detached in submission.detached_spans:
            assert detached.run_key == run.run_key
            parent = run.root_node_key if detached.span.kind == "stage" else stages
            assert detached.span.parent_node_key in (
                parent if isinstance(parent, set) else {parent}
            )
    finished = [s for s in jenkins if s.attempts[0].status is Status.SUCCESS]
    assert all({"test_count", "coverage_percent"} <= set(s.attempts[0].metrics) for s in finished)
    assert any(d.span.metrics.get("test_count") for s in finished for d in s.detached_spans)


@pytest.mark.parametrize("seed", [2, 7, 1])  # their small layouts: GitHub, GitLab, CircleCI
def test_runwatch_jobs_carry_their_queue_time_and_runner(seed: int) -> None:
    """As GitHub's and GitLab's webhooks and CircleCI's API give it: every job that started
    has ``queue_seconds`` (at least the time a runner took to pick it up) and a priced label
    set, a job that never started neither (unknown)."""
    plan = DemoPlan(runs=400, days=21, now=NOW, seed=seed)
    runwatch = [
        attempt
        for attempt in attempts(history(plan))
        if attempt.source_format is SourceFormat.RUNWATCH
    ]
    queued = [a for a in runwatch if a.provider in ("github", "gitlab", "circleci")]
    assert queued and len(queued) == len(runwatch)
    for attempt in queued:
        for job in attempt.jobs:
            if job.started_at is None:
                assert "queue_seconds" not in job.metrics
                assert job.runner.labels is None
            else:
                assert job.metrics["queue_seconds"] >= 0
                day = job.started_at.date()
                assert rate_for(DEMO_RATES, attempt.provider, job.runner.labels, day)
    assert any(job.metrics["queue_seconds"] > 0 for a in queued for job in a.jobs if job.metrics)


@pytest.mark.parametrize("day", [date(2025, 6, 1), date(2026, 1, 1), date(2026, 3, 1)])
def test_every_demo_runner_pool_has_a_rate(day: date) -> None:
    """The demo's costs are known: each pool's label set is priced on any day."""
    for provider, pools in POOLS.items():
        for pool in pools:
            assert rate_for(DEMO_RATES, provider, pool.labels, day), (provider, pool.labels)
    for agent_pool in JENKINS_AGENT_POOLS:
        assert rate_for(DEMO_RATES, "jenkins", agent_pool, day), agent_pool
    gpu = rate_for(DEMO_RATES, "github", "gpu,linux,self-hosted,x64", day)
    assert gpu is not None and gpu.pattern == "*gpu*"
    # CircleCI's credits: 10 (medium) and 20 (large) a minute at $0.0006 a credit.
    medium = rate_for(DEMO_RATES, "circleci", "docker/medium", day)
    large = rate_for(DEMO_RATES, "circleci", "docker/large", day)
    assert (medium and medium.price_micros, large and large.price_micros) == (6_000, 12_000)


def test_the_organisation_scales_with_the_runs() -> None:
    small = build_layout(42, 2000, DAYS)
    assert (len(small.pipelines), len(small.repositories)) == (3, 1)
    large = build_layout(42, 1_000_000, 90)
    assert (len(large.pipelines), len(large.repositories)) == (200, 50)
    assert {p.provider for p in large.pipelines} == {"github", "gitlab", "circleci", "jenkins"}
    assert 5 <= sum(p.kind.jenkins for p in large.pipelines) <= 15
    assert all(5 <= len(p.jobs) <= 20 for p in large.pipelines)
    assert sum(bool(p.flaky_jobs) for p in large.pipelines) > len(large.pipelines) / 2


# Seeding real databases


def test_seed_stores_the_history_and_seeding_again_changes_nothing(
    settings: Settings, database: Database
) -> None:
    jobs = job_count(small_history())
    first = seed(settings, "--workers", "0")
    assert first.exit_code == 0, first.stderr
    assert "created organisation 'demo'" in first.stderr
    assert f"seeded {SMALL.runs} runs ({jobs} jobs)" in first.stderr
    assert (count(database, "run_attempts"), count(database, "jobs")) == (SMALL.runs, jobs)
    # Ids derive from natural keys: seeding again updates the same rows.
    again = seed(settings, "--workers", "0")
    assert again.exit_code == 0, again.stderr
    assert "created organisation" not in again.stderr
    assert (count(database, "run_attempts"), count(database, "jobs")) == (SMALL.runs, jobs)
    assert [o["name"] for o in rows(database, "organisations")] == ["demo"]
    assert count(database, "rates") == len(DEMO_RATES)  # its rate card, set once

    stored = rows(database, "run_attempts")
    now_ms = int(NOW.timestamp() * 1000)
    assert all(now_ms - DAYS * 86_400_000 <= r["started_at_ms"] <= now_ms for r in stored)
    assert {"failure", "cancelled", "success"} <= {r["status"] for r in stored}
    by_key = {(r["pipeline_id"], r["run_key"], r["attempt"]): r["status"] for r in stored}
    flaky = [
        key
        for key, status in by_key.items()
        if key[2] == 2 and status == "success" and by_key[(key[0], key[1], 1)] == "failure"
    ]
    assert flaky
    streak = longest_red_streak_on_main(
        (r["pipeline_id"], r["branch"], r["attempt"], r["started_at_ms"], r["status"])
        for r in stored
    )
    assert streak >= 3

    assert all(r["commit_sha"] and r["commit_author"] and r["event_kind"] for r in stored)
    assert any(r["pull_request_url"] for r in stored)

    trunk = [r for r in stored if r["source_format"] == "trunk"]
    assert trunk and all(r["metrics"] and r["tags"]["runner"] for r in trunk)
    tree = rows(database, "jobs", attempt_id=trunk[0]["id"])
    assert {job["kind"] for job in tree} == {"stage", "step"}
    assert {job["parent_node_key"] for job in tree if job["kind"] == "stage"} == {
        trunk[0]["root_node_key"]
    }


def test_seed_refuses_what_the_plan_limits_refuse(settings: Settings, database: Database) -> None:
    runner = CliRunner()
    url = ["--database-url", settings.database_url]
    runner.invoke(cli, [*url, "orgs", "create", "small"])
    runner.invoke(cli, [*url, "orgs", "set-limits", "small", "--max-runs-per-month", "500"])
    result = seed(settings, "--org", "small", "--workers", "0")
    assert result.exit_code == 1
    assert "runs refused: plan limit exceeded: max_runs_per_month is 500" in result.stderr
    assert count(database, "run_attempts") == 500


def test_seed_with_a_worker_process(sqlite_template: Path, tmp_path: Path) -> None:
    path = tmp_path / "demo.db"
    shutil.copy(sqlite_template, path)
    settings = Settings(database_url=f"sqlite:///{path}", bootstrap_org="")
    result = seed(settings, "--workers", "1")
    assert result.exit_code == 0, result.stderr
    database = Database(settings)
    try:
        stored = Counter(r["status"] for r in rows(database, "run_attempts"))
        assert count(database, "jobs") == job_count(small_history())
    finally:
        database.dispose()
    assert stored == Counter(run.status.value for run in attempts(small_history()))
