"""The RunWatch payload the reporters build, as typed dicts.

The RunWatch payload the reporters build (the shape of ``POST /api/v1/ingest``), as typed
dicts ready for JSON, and what a converter hands back with it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, NotRequired, TypedDict

from cipulse.domain.status import FINISHED_STATUSES, Status

Mode = Literal["inline", "external"]
#: The ``--mode`` option: ``auto`` picks one of the modes from the options and environment.
ModeChoice = Literal["auto", "inline", "external"]


class RunWatchJob(TypedDict):
    name: str
    status: str
    job_id: NotRequired[int | str]
    job_url: NotRequired[str]
    started_at: NotRequired[str]
    completed_at: NotRequired[str]
    # cipulse's extension fields (docs/api.md): how long it waited, where it ran.
    created_at: NotRequired[str]
    queued_seconds: NotRequired[float]
    runner_labels: NotRequired[list[str]]
    runner_name: NotRequired[str]
    runner_group: NotRequired[str]
    runner_id: NotRequired[int]


class RunWatchPayload(TypedDict):
    provider: str
    repository: str
    pipeline_name: str
    run_id: int
    run_attempt: int
    status: str
    started_at: str
    triggered_by: str
    actor: str
    mode: Mode
    jobs: list[RunWatchJob]
    pipeline_id: NotRequired[int | str]
    run_name: NotRequired[str]
    run_url: NotRequired[str]
    completed_at: NotRequired[str]
    branch: NotRequired[str]
    # cipulse's extensions (docs/api.md): the change the run is for.
    commit_sha: NotRequired[str]
    commit_message: NotRequired[str]
    commit_author: NotRequired[str]
    pull_request_number: NotRequired[int]
    pull_request_title: NotRequired[str]
    pull_request_url: NotRequired[str]
    pull_request_source_branch: NotRequired[str]
    pull_request_target_branch: NotRequired[str]
    event: NotRequired[str]


@dataclass(frozen=True, slots=True)
class ChangeReport:
    """The change a run is for, as the reporter read it (None: unknown, not sent). Its
    fields are cipulse's extension fields of the RunWatch payload, by the same names."""

    commit_sha: str | None = None
    commit_message: str | None = None
    commit_author: str | None = None
    pull_request_number: int | None = None
    pull_request_title: str | None = None
    pull_request_url: str | None = None
    pull_request_source_branch: str | None = None
    pull_request_target_branch: str | None = None
    event: str | None = None


@dataclass(frozen=True, slots=True)
class Conversion:
    """The payloads of a run, one per attempt, in attempt order (GitHub: the one attempt
    read; GitLab: one per retry round), and what the user should know about how they were
    built (jobs left out, jobs still running...)."""

    payloads: list[RunWatchPayload]
    notes: list[str] = field(default_factory=list)


def iso(moment: datetime) -> str:
    """UTC, seconds or finer, with ``Z``: ``2024-01-15T10:30:00Z``."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def chosen_mode(choice: ModeChoice, *, external: bool) -> Mode:
    """``choice``, where ``auto`` is ``external`` when ``external`` holds, else ``inline``."""
    if choice == "auto":
        return "external" if external else "inline"
    return choice


@dataclass(frozen=True, slots=True)
class JobReport:
    """A job as reported, with the status and times it was reported with."""

    job: RunWatchJob
    status: Status
    started: datetime | None
    completed: datetime | None


def job_report(
    *,
    name: str,
    job_id: int,
    status: Status,
    url: str | None,
    started: datetime | None,
    completed: datetime | None,
    waited: JobWait | None = None,
) -> JobReport:
    """A job's entry in a payload: the times it has, and its page when it has one; how long
    it waited and its runner, in cipulse's extension fields, where the CI system says."""
    converted: RunWatchJob = {"name": name, "status": status.value, "job_id": job_id}
    if url:
        converted["job_url"] = url
    if started is not None:
        converted["started_at"] = iso(started)
    if completed is not None:
        converted["completed_at"] = iso(completed)
    if waited is not None:
        waited.add_to(converted)
    return JobReport(converted, status, started, completed)


@dataclass(frozen=True, slots=True)
class JobWait:
    """When a job was queued (or how long it waited) and the runner it ran on: cipulse's
    extension fields of a RunWatch job (docs/api.md)."""

    created: datetime | None = None
    queued_seconds: float | None = None
    runner_labels: tuple[str, ...] = ()
    runner_name: str | None = None
    runner_group: str | None = None
    runner_id: int | None = None

    def add_to(self, found: RunWatchJob) -> None:
        """Set the extension fields this knows on ``found``."""
        if self.created is not None:
            found["created_at"] = iso(self.created)
        if self.queued_seconds is not None:
            found["queued_seconds"] = self.queued_seconds
        if self.runner_labels:
            found["runner_labels"] = list(self.runner_labels)
        if self.runner_name:
            found["runner_name"] = self.runner_name
        if self.runner_group:
            found["runner_group"] = self.runner_group
        if self.runner_id is not None:
            found["runner_id"] = self.runner_id


def unfinished_notes(reports: Sequence[JobReport], whose: str) -> list[str]:
    """A note for each job in ``reports`` that has not finished (inline mode), which is not
    counted in ``whose`` status (``"run's"``, ``"pipeline's"``)."""
    return [
        f"job {report.job['name']!r} is still {report.status.value}: reported so, and not "
        f"counted in the {whose} status"
        for report in reports
        if report.status not in FINISHED_STATUSES
    ]


@dataclass(frozen=True, slots=True)
class RunHeader:
    """What every attempt's payload of a run says about the run."""

    provider: str
    repository: str
    pipeline_id: int | str
    pipeline_name: str
    run_id: int
    triggered_by: str
    actor: str
    run_name: str | None
    run_url: str | None
    branch: str | None
    change: ChangeReport = field(default_factory=ChangeReport)


@dataclass(frozen=True, slots=True)
class Attempt:
    """One attempt of a run: its number, its status and times, and its jobs."""

    number: int
    status: Status
    started: datetime
    completed: datetime | None
    reports: Sequence[JobReport]


def run_payload(run: RunHeader, attempt: Attempt, mode: Mode) -> RunWatchPayload:
    """The payload of one ``attempt`` of ``run``; optional fields only when known."""
    payload: RunWatchPayload = {
        "provider": run.provider,
        "repository": run.repository,
        "pipeline_id": run.pipeline_id,
        "pipeline_name": run.pipeline_name,
        "run_id": run.run_id,
        "run_attempt": attempt.number,
        "status": attempt.status.value,
        "mode": mode,
        "started_at": iso(attempt.started),
        "triggered_by": run.triggered_by,
        "actor": run.actor,
        "jobs": [report.job for report in attempt.reports],
    }
    if run.run_name:
        payload["run_name"] = run.run_name
    if run.run_url:
        payload["run_url"] = run.run_url
    if attempt.completed is not None:
        payload["completed_at"] = iso(attempt.completed)
    if run.branch:
        payload["branch"] = run.branch
    _add_change(payload, run.change)
    return payload


def _add_change(payload: RunWatchPayload, change: ChangeReport) -> None:
    """The change's fields that are known (a commit message as its first line)."""
    message = (change.commit_message or "").strip()
    texts = {
        "commit_sha": change.commit_sha,
        "commit_message": message.splitlines()[0] if message else None,
        "commit_author": change.commit_author,
        "pull_request_title": change.pull_request_title,
        "pull_request_url": change.pull_request_url,
        "pull_request_source_branch": change.pull_request_source_branch,
        "pull_request_target_branch": change.pull_request_target_branch,
        "event": change.event,
    }
    for key, value in texts.items():
        if value:
            payload[key] = value  # type: ignore[literal-required]
    if change.pull_request_number is not None:
        payload["pull_request_number"] = change.pull_request_number
