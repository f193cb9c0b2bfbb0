"""The RunWatch payload as specified, widened to what reporters send.

The RunWatch ingest payload as the public spec documents it, widened to what the real
reporters send: the legacy field names (``workflow_id``, ``workflow_name``,
``workflow_run_id``), statuses beyond the spec's eight (``unknown``, GitHub's other
conclusions), and impossible timings (negative durations, an end before the start), which
are stored with a warning (``domain/timings.py``) instead of refused. Unknown fields are
ignored."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, StringConstraints

from cipulse.domain.accepted import MAX_ATTEMPT
from cipulse.ingestion.wire_types import (
    LaxInteger,
    Name,
    OptionalText,
    SignedSeconds,
    StringOrIntegerId,
    Timestamp,
    Url,
)

Provider = Literal["github", "gitlab", "bitbucket", "circleci", "other"]
#: The spec's eight statuses (cipulse's own), then what real reporters send beyond them:
#: ``domain/ci_statuses.py`` (``RUNWATCH_STATUSES``) maps them.
WireStatus = Literal[
    "success",
    "failure",
    "cancelled",
    "running",
    "queued",
    "pending",
    "skipped",
    "timed_out",
    "unknown",
    "neutral",
    "stale",
    "action_required",
    "startup_failure",
]
#: ``owner/name``; GitLab subgroups (``group/sub/name``) have more segments.
RepositoryName = Annotated[str, StringConstraints(pattern=r"^[^/\s]+(/[^/\s]+)+$", max_length=500)]


#: A commit's id as sent; one that is not a SHA is stored as unknown, with a warning.
CommitSha = Annotated[str, StringConstraints(max_length=200)]
#: A whole commit message may be sent; its first line is kept.
CommitMessage = Annotated[str, StringConstraints(max_length=100_000)]
PullRequestNumber = Annotated[LaxInteger, Field(ge=1, le=2**63 - 1)]
#: A runner's labels: a list, or text joined with commas (``domain/runners.py``).
RunnerLabels = (
    Annotated[list[Annotated[str, StringConstraints(max_length=200)]], Field(max_length=100)]
    | Annotated[str, StringConstraints(max_length=2000)]
)


class RunWatchJob(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: Name
    job_id: StringOrIntegerId | None = None
    job_url: Url | None = None
    status: WireStatus
    duration_seconds: SignedSeconds | None = None
    started_at: Timestamp | None = None
    completed_at: Timestamp | None = None
    # cipulse's extensions (docs/api.md): why the job failed, and in which step.
    failure_reason: OptionalText | None = None
    failing_step: OptionalText | None = None
    # cipulse's extensions (docs/api.md): how long it waited, and the runner it ran on.
    created_at: Timestamp | None = None
    queued_seconds: SignedSeconds | None = None
    runner_labels: RunnerLabels | None = None
    runner_name: OptionalText | None = None
    runner_group: OptionalText | None = None
    runner_id: StringOrIntegerId | None = None


class RunWatchRun(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    provider: Provider
    repository: RepositoryName
    pipeline_id: Annotated[
        StringOrIntegerId | None,
        Field(
            validation_alias=AliasChoices("pipeline_id", "workflow_id"), union_mode="left_to_right"
        ),
    ] = None
    pipeline_name: Annotated[
        Name, Field(validation_alias=AliasChoices("pipeline_name", "workflow_name"))
    ]
    run_id: Annotated[
        LaxInteger,
        Field(ge=0, le=2**63 - 1, validation_alias=AliasChoices("run_id", "workflow_run_id")),
    ]
    run_attempt: Annotated[LaxInteger, Field(ge=1, le=MAX_ATTEMPT)]
    run_name: OptionalText | None = None
    run_url: Url | None = None
    status: WireStatus
    mode: Literal["inline", "external"] | None = None
    compute_seconds: SignedSeconds | None = None
    duration_seconds: SignedSeconds | None = None
    started_at: Timestamp
    completed_at: Timestamp | None = None
    triggered_by: OptionalText
    actor: OptionalText
    branch: OptionalText | None = None
    jobs: list[RunWatchJob] = Field(default_factory=list, max_length=10_000)
    # cipulse's extensions (docs/api.md, "cipulse extensions"): the change the run is for.
    commit_sha: CommitSha | None = None
    commit_message: CommitMessage | None = None
    commit_author: OptionalText | None = None
    pull_request_number: PullRequestNumber | None = None
    pull_request_title: OptionalText | None = None
    pull_request_url: Url | None = None
    pull_request_source_branch: OptionalText | None = None
    pull_request_target_branch: OptionalText | None = None
    event: OptionalText | None = None
    failure_reason: OptionalText | None = None
    created_at: Timestamp | None = None
    queued_seconds: SignedSeconds | None = None
