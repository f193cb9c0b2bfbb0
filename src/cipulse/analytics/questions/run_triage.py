"""The run page's triage: turned red?, what changed, how slow are the jobs.

For a failed attempt on its repository's default branch: whether it turned the branch red
(the start of a red period, as ``run_metrics.red_periods`` defines one), the previous green
attempt of the pipeline and branch, and the commits and pull requests of the attempts since.
For every attempt: its failing jobs, and each job's usual duration beside its own
(``definitions.TRIAGE_METRICS``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from math import ceil
from typing import Any

from sqlalchemy.engine import Connection

from cipulse.analytics.job_metrics import top_level
from cipulse.analytics.run_metrics import FAILING
from cipulse.domain.window import on_default_branch
from cipulse.storage import triage_store
from cipulse.storage.attempt_filters import default_branches

#: How far back a job's usual duration looks, and through how many attempts at most.
USUAL_DAYS = 30
USUAL_RECENT_ATTEMPTS = 200
#: The commits and pull requests listed, at most (the rest are counted).
CHANGES_LISTED = 50
#: The attempts read to list them.
_CHANGES_READ = 500
_DAY_MS = 86_400_000


class Verdict(StrEnum):
    """What a run did to its branch."""

    TURNED_RED = "turned_red"  # failed, and the outcome before it passed (or there was none)
    STILL_RED = "still_red"  # failed after a failing outcome
    NOT_FAILED = "not_failed"  # did not end failure or timed_out
    NOT_DEFAULT_BRANCH = "not_default_branch"  # failed on another branch than the default


@dataclass(frozen=True, slots=True)
class RunRef:
    """An earlier attempt of the same pipeline and branch."""

    id: str
    run_key: str
    run_number: int | None
    attempt: int
    completed_at_ms: int | None
    commit_sha: str | None


@dataclass(frozen=True, slots=True)
class ChangedCommit:
    """A commit that ran since the previous green run (its newest attempt's)."""

    sha: str
    url: str | None
    message: str | None
    author: str | None
    run_id: str


@dataclass(frozen=True, slots=True)
class ChangedPullRequest:
    number: int
    title: str | None
    url: str | None


@dataclass(frozen=True, slots=True)
class Changes:
    """What the attempts after the previous green one, up to this one, ran for."""

    runs: int
    commits: tuple[ChangedCommit, ...]
    more_commits: int
    pull_requests: tuple[ChangedPullRequest, ...]
    more_pull_requests: int


@dataclass(frozen=True, slots=True)
class JobTiming:
    """A job of the attempt (directly under the run): its duration and its usual one."""

    id: str
    name: str
    definition_key: str
    status: str
    duration_seconds: float | None
    usual_duration_seconds: float | None
    usual_sample: int
    #: duration / usual - 1 (0.85 is 85% slower than usual); None when either is unknown.
    change: float | None


@dataclass(frozen=True, slots=True)
class FailingJob:
    """A job (or stage) of the attempt that did not succeed, with its failed step."""

    id: str
    name: str
    definition_key: str
    url: str | None
    failing_step: str | None
    failure_reason: str
    failure_class: str | None


@dataclass(frozen=True, slots=True)
class Triage:
    on_default_branch: bool
    verdict: Verdict
    #: The latest green attempt before it (failed attempts on a default branch only).
    previous_green: RunRef | None
    changes: Changes | None
    failing_jobs: tuple[FailingJob, ...]
    jobs: tuple[JobTiming, ...]


def run_triage(conn: Connection, org_id: str, row: dict[str, Any], jobs: list[Any]) -> Triage:
    """The triage of one attempt (``row``, as ``list_store.attempt_detail`` reads it) and
    its job rows."""
    pipeline_id, branch = row["pipeline_id"], row["branch"]
    default = default_branches(conn, org_id, [pipeline_id]).get(pipeline_id)
    on_default = on_default_branch(branch, default)
    timings = _job_timings(conn, org_id, row, jobs)
    failing = _failing_jobs(jobs)
    completed = row["completed_at_ms"]
    if row["status"] not in FAILING or completed is None:
        return Triage(on_default, Verdict.NOT_FAILED, None, None, failing, timings)
    if not on_default:
        return Triage(on_default, Verdict.NOT_DEFAULT_BRANCH, None, None, failing, timings)
    before = triage_store.previous_outcome(conn, org_id, pipeline_id, branch, completed, row["id"])
    verdict = Verdict.STILL_RED if before and before["status"] in FAILING else Verdict.TURNED_RED
    green = (
        before
        if before and before["status"] == "success"
        else triage_store.previous_success(conn, org_id, pipeline_id, branch, completed)
    )
    changes = _changes(conn, org_id, row, green)
    previous = None if green is None else _ref(green)
    return Triage(on_default, verdict, previous, changes, failing, timings)


def _failing_jobs(jobs: Sequence[dict[str, Any]]) -> tuple[FailingJob, ...]:
    """The nodes other than steps that did not succeed (a failed step is named on its
    job), in the order they started."""
    return tuple(
        FailingJob(
            id=str(job["id"]),
            name=job["name"],
            definition_key=job["definition_key"],
            url=job["url"],
            failing_step=job["failing_step"],
            failure_reason=job["failure_reason"],
            failure_class=job["failure_class"],
        )
        for job in sorted(jobs, key=_started)
        if job["failure_reason"] and job["kind"] != "step"
    )


def _started(job: dict[str, Any]) -> tuple[bool, int, str]:
    """Jobs in the order they started, those of unknown start last (on either engine)."""
    return (job["started_at_ms"] is None, job["started_at_ms"] or 0, job["name"])


def _ref(row: dict[str, Any]) -> RunRef:
    return RunRef(
        id=str(row["id"]),
        run_key=row["run_key"],
        run_number=row["run_number"],
        attempt=row["attempt"],
        completed_at_ms=row["completed_at_ms"],
        commit_sha=row["commit_sha"],
    )


def _changes(
    conn: Connection, org_id: str, row: dict[str, Any], green: dict[str, Any] | None
) -> Changes:
    """The commits and pull requests of the attempts after ``green`` up to ``row``; with no
    green attempt before it, ``row``'s own."""
    if green is None:
        between = [row]
        named = (row["commit_sha"], row["pull_request_number"])
        counts = (1, *(int(value is not None) for value in named))
    else:
        key = (org_id, row["pipeline_id"], row["branch"])
        span = (green["completed_at_ms"], row["completed_at_ms"])
        between = triage_store.attempts_between(conn, *key, span, _CHANGES_READ)
        counts = triage_store.counts_between(conn, *key, span)
    commits: dict[str, ChangedCommit] = {}
    pulls: dict[int, ChangedPullRequest] = {}
    for found in between:
        sha, number = found["commit_sha"], found["pull_request_number"]
        if sha and sha not in commits:
            url = commit_url(row, sha)
            message, author = found["commit_message"], found["commit_author"]
            commits[sha] = ChangedCommit(sha, url, message, author, str(found["id"]))
        if number is not None and number not in pulls:
            title, link = found["pull_request_title"], found["pull_request_url"]
            pulls[number] = ChangedPullRequest(number, title, link)
    listed_commits = tuple(commits.values())[:CHANGES_LISTED]
    listed_pulls = tuple(pulls.values())[:CHANGES_LISTED]
    return Changes(
        runs=counts[0],
        commits=listed_commits,
        more_commits=max(counts[1] - len(listed_commits), 0),
        pull_requests=listed_pulls,
        more_pull_requests=max(counts[2] - len(listed_pulls), 0),
    )


#: Where a host's commits are, under the repository's web address.
_COMMIT_PATHS = {"github": "/commit/", "gitlab": "/-/commit/"}


def commit_url(row: dict[str, Any], sha: str) -> str | None:
    """A commit's page, only when the attempt's own page shows where the repository is:
    a GitHub or GitLab run whose URL starts with ``https://{host}/{repository}/``."""
    path = _COMMIT_PATHS.get(row.get("provider") or "")
    run_url = row.get("run_url") or ""
    base = f"https://{row['repository_host']}/{row['repository']}"
    if path is None or not run_url.lower().startswith(base.lower() + "/"):
        return None
    return base + path + sha


def _job_timings(
    conn: Connection, org_id: str, row: dict[str, Any], jobs: Sequence[dict[str, Any]]
) -> tuple[JobTiming, ...]:
    """Each job directly under the run with its usual duration (one query for all)."""
    listed = sorted(top_level(jobs, row.get("root_node_key")), key=_started)
    start = row["started_at_ms"] if row["started_at_ms"] is not None else row["completed_at_ms"]
    past: dict[str, list[float]] = {}
    if start is not None:
        span = (start - USUAL_DAYS * _DAY_MS, start)
        keys = [job["definition_key"] for job in listed]
        args = (org_id, row["pipeline_id"], row["branch"], span, keys, USUAL_RECENT_ATTEMPTS)
        for key, seconds in triage_store.past_durations(conn, *args):
            past.setdefault(key, []).append(seconds)
    return tuple(_timing(job, past.get(job["definition_key"], [])) for job in listed)


def _timing(job: dict[str, Any], durations: list[float]) -> JobTiming:
    usual = nearest_rank_median(durations)
    seconds = job["duration_seconds"]
    change = seconds / usual - 1 if seconds is not None and usual else None
    return JobTiming(
        id=str(job["id"]),
        name=job["name"],
        definition_key=job["definition_key"],
        status=job["status"],
        duration_seconds=seconds,
        usual_duration_seconds=usual,
        usual_sample=len(durations),
        change=change,
    )


def nearest_rank_median(values: Sequence[float]) -> float | None:
    """The value at rank ⌈0.5·n⌉ of the n sorted values; None when there are none."""
    if not values:
        return None
    return sorted(values)[ceil(0.5 * len(values)) - 1]
