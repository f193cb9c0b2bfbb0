"""The parts of GitHub's workflow webhook payloads cipulse reads.

The parts of GitHub's ``workflow_run`` and ``workflow_job`` webhook payloads that cipulse
reads (GitHub's webhook reference; examples in octokit/webhooks). Unknown fields are
ignored; fields GitHub documents as nullable are optional here."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from cipulse.ingestion.wire_types import (
    AttemptNumber,
    Identifier,
    Int64,
    Name,
    OptionalText,
    Timestamp,
    Url,
)


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Account(_Lenient):
    login: Name


class Repository(_Lenient):
    full_name: Name
    html_url: Url | None = None
    default_branch: Name | None = None


class CommitAuthor(_Lenient):
    name: OptionalText | None = None


class HeadCommit(_Lenient):
    message: str | None = None
    author: CommitAuthor | None = None


class BranchRef(_Lenient):
    ref: OptionalText | None = None


class PullRequest(_Lenient):
    """A pull request a workflow run's head commit is the head of (GitHub lists neither
    title nor page: the page is the repository's ``/pull/{number}``)."""

    number: Annotated[int, Field(ge=1, le=2**63 - 1)]
    url: Url | None = None
    head: BranchRef | None = None
    base: BranchRef | None = None


class WorkflowRun(_Lenient):
    id: Int64
    name: OptionalText | None = None
    workflow_id: Int64
    path: OptionalText | None = None
    display_title: OptionalText | None = None
    run_number: Int64 | None = None
    run_attempt: AttemptNumber = 1
    event: OptionalText | None = None
    status: OptionalText | None = None
    conclusion: OptionalText | None = None
    head_branch: OptionalText | None = None
    head_sha: OptionalText | None = None
    html_url: Url | None = None
    created_at: Timestamp
    updated_at: Timestamp | None = None
    run_started_at: Timestamp | None = None
    actor: Account | None = None
    triggering_actor: Account | None = None
    head_commit: HeadCommit | None = None
    pull_requests: list[PullRequest] = []


class WorkflowRunEvent(_Lenient):
    action: OptionalText | None = None
    workflow_run: WorkflowRun
    repository: Repository


class Step(_Lenient):
    name: OptionalText
    number: Int64
    status: OptionalText | None = None
    conclusion: OptionalText | None = None
    started_at: Timestamp | None = None
    completed_at: Timestamp | None = None


class WorkflowJob(_Lenient):
    id: Int64
    run_id: Int64
    run_attempt: AttemptNumber = 1
    name: OptionalText
    workflow_name: OptionalText | None = None
    head_branch: OptionalText | None = None
    status: OptionalText | None = None
    conclusion: OptionalText | None = None
    html_url: Url | None = None
    created_at: Timestamp | None = None
    started_at: Timestamp | None = None
    completed_at: Timestamp | None = None
    steps: list[Step] = []
    labels: list[OptionalText] = []
    runner_id: Int64 | None = None
    runner_name: OptionalText | None = None
    runner_group_name: OptionalText | None = None


class WorkflowJobEvent(_Lenient):
    action: OptionalText | None = None
    workflow_job: WorkflowJob
    repository: Repository


class PingEvent(_Lenient):
    zen: OptionalText | None = None
    hook_id: Identifier | Int64 | None = None
