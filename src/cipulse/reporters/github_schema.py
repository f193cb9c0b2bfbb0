"""The fields the reporter reads from GitHub's REST API.

The fields the reporter reads from the GitHub Actions REST API (``GET …/actions/runs/{id}``
and ``…/attempts/{n}/jobs``); everything else is ignored."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class _Api(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Account(_Api):
    login: str


class CommitAuthor(_Api):
    name: str | None = None


class HeadCommit(_Api):
    message: str | None = None
    author: CommitAuthor | None = None


class BranchRef(_Api):
    ref: str | None = None


class PullRequest(_Api):
    number: int
    url: str | None = None
    head: BranchRef | None = None
    base: BranchRef | None = None


class Repository(_Api):
    html_url: str | None = None


class WorkflowRun(_Api):
    id: int
    name: str | None = None
    path: str | None = None
    workflow_id: int
    run_attempt: int = 1
    display_title: str | None = None
    head_branch: str | None = None
    event: str | None = None
    status: str | None = None
    conclusion: str | None = None
    html_url: str | None = None
    created_at: datetime
    updated_at: datetime | None = None
    run_started_at: datetime | None = None
    actor: Account | None = None
    triggering_actor: Account | None = None
    head_sha: str | None = None
    head_commit: HeadCommit | None = None
    pull_requests: list[PullRequest] = []
    repository: Repository | None = None


class Job(_Api):
    id: int
    name: str
    status: str | None = None
    conclusion: str | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    html_url: str | None = None
    created_at: datetime | None = None
    labels: list[str] = []
    runner_id: int | None = None
    runner_name: str | None = None
    runner_group_name: str | None = None


class JobsPage(_Api):
    total_count: int | None = None
    jobs: list[Job]
