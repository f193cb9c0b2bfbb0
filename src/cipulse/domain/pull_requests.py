"""A pull request's figures from its run attempts: CI time, time to green.

A pull (or merge) request is known by its repository and number; its attempts are those whose
``pull_request_number`` names it in that repository. Pure: the figures depend on the attempts
only (docs/metrics.md, "Pull requests", defines each one word for word)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from cipulse.domain.status import Status

SUCCESS = Status.SUCCESS.value


class PullRequestKey(NamedTuple):
    repository_id: str
    number: int


class PullRequestAttempt(NamedTuple):
    """The columns of a stored attempt a pull request's figures read."""

    id: str
    pipeline_id: str
    run_key: str
    attempt: int
    status: str
    started_at_ms: int | None
    completed_at_ms: int | None
    duration_seconds: float | None
    compute_seconds: float | None
    commit_sha: str | None
    commit_author: str | None
    pull_request_title: str | None
    pull_request_url: str | None
    pull_request_source_branch: str | None
    pull_request_target_branch: str | None


@dataclass(frozen=True, slots=True)
class PullRequestFigures:
    """One pull request and its figures over every stored attempt of it (times in ms)."""

    key: PullRequestKey
    title: str | None
    url: str | None
    source_branch: str | None
    target_branch: str | None
    authors: tuple[str, ...]
    commits: int
    head_commit_sha: str | None
    first_run_at_ms: int | None
    last_run_at_ms: int | None
    runs: int
    attempts: int
    reruns: int
    ci_seconds: float
    compute_seconds: float | None
    time_to_green_head_seconds: float | None
    time_to_green_seconds: float | None

    def sort_value(self, field: str) -> object:
        if field == "number":
            return self.key.number
        if field in ("first_run_at", "last_run_at"):
            return getattr(self, f"{field}_ms")
        return getattr(self, field)


def _order(attempt: PullRequestAttempt) -> tuple[int, str]:
    """Attempts by start (unknown starts first), then id: one order for every reader."""
    return (attempt.started_at_ms if attempt.started_at_ms is not None else -1, attempt.id)


def _latest_text(attempts: list[PullRequestAttempt], field: str) -> str | None:
    """The value the latest attempt that gives ``field`` gives (a title may be edited)."""
    for attempt in reversed(attempts):
        value = getattr(attempt, field)
        if value is not None:
            return str(value)
    return None


def _seconds(start_ms: int | None, end_ms: int | None) -> float | None:
    if start_ms is None or end_ms is None:
        return None
    return max(0, end_ms - start_ms) / 1000


def time_to_green_head(attempts: list[PullRequestAttempt]) -> float | None:
    """From the start of the first attempt of the head commit (that of the latest attempt
    naming a commit) to the end of the first-started attempt of it that succeeded."""
    head = _latest_text(attempts, "commit_sha")
    if head is None:
        return None
    of_head = [a for a in attempts if a.commit_sha == head and a.started_at_ms is not None]
    passed = [a for a in of_head if a.status == SUCCESS and a.completed_at_ms is not None]
    if not passed:
        return None
    return _seconds(of_head[0].started_at_ms, passed[0].completed_at_ms)


def time_to_green(attempts: list[PullRequestAttempt]) -> float | None:
    """From the start of the pull request's first attempt to the end of its last green one
    (the successful attempt that completed last)."""
    started = [a.started_at_ms for a in attempts if a.started_at_ms is not None]
    ends = [
        a.completed_at_ms
        for a in attempts
        if a.status == SUCCESS and a.completed_at_ms is not None and a.started_at_ms is not None
    ]
    if not started or not ends:
        return None
    return _seconds(min(started), max(ends))


def figures_of(key: PullRequestKey, given: Iterable[PullRequestAttempt]) -> PullRequestFigures:
    """The figures of the pull request ``key`` from its attempts, in any order."""
    attempts = sorted(given, key=_order)
    started = [a.started_at_ms for a in attempts if a.started_at_ms is not None]
    computes = [a.compute_seconds for a in attempts if a.compute_seconds is not None]
    return PullRequestFigures(
        key=key,
        title=_latest_text(attempts, "pull_request_title"),
        url=_latest_text(attempts, "pull_request_url"),
        source_branch=_latest_text(attempts, "pull_request_source_branch"),
        target_branch=_latest_text(attempts, "pull_request_target_branch"),
        authors=tuple(dict.fromkeys(a.commit_author for a in attempts if a.commit_author)),
        commits=len({a.commit_sha for a in attempts if a.commit_sha}),
        head_commit_sha=_latest_text(attempts, "commit_sha"),
        first_run_at_ms=min(started, default=None),
        last_run_at_ms=max(started, default=None),
        runs=len({(a.pipeline_id, a.run_key) for a in attempts}),
        attempts=len(attempts),
        reruns=sum(1 for a in attempts if a.attempt > 1),
        ci_seconds=sum(a.duration_seconds or 0.0 for a in attempts),
        compute_seconds=sum(computes) if computes else None,
        time_to_green_head_seconds=time_to_green_head(attempts),
        time_to_green_seconds=time_to_green(attempts),
    )
