"""The RunWatch ingest payload, exactly as the public spec documents it, plus the legacy field
names (``workflow_id``, ``workflow_name``, ``workflow_run_id``) older reporters send.
Unknown fields are ignored."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from cipulse.domain.accepted import MAX_ATTEMPT
from cipulse.domain.status import Status
from cipulse.ingestion.validation import field_error
from cipulse.ingestion.wire_types import (
    LaxInteger,
    Name,
    OptionalText,
    Seconds,
    StringOrIntegerId,
    Timestamp,
    Url,
)

Provider = Literal["github", "gitlab", "bitbucket", "circleci", "other"]
#: The spec's eight statuses are exactly our enum's (pydantic validates straight into it).
WireStatus = Status
#: ``owner/name``; GitLab subgroups (``group/sub/name``) have more segments.
RepositoryName = Annotated[str, StringConstraints(pattern=r"^[^/\s]+(/[^/\s]+)+$", max_length=500)]


def _check_order(started: Timestamp | None, completed: Timestamp | None) -> None:
    if started is not None and completed is not None and completed < started:
        raise field_error("completed_at", "must not be before started_at")


class RunWatchJob(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: Name
    job_id: StringOrIntegerId | None = None
    job_url: Url | None = None
    status: WireStatus
    duration_seconds: Seconds | None = None
    started_at: Timestamp | None = None
    completed_at: Timestamp | None = None

    @model_validator(mode="after")
    def _completed_after_started(self) -> RunWatchJob:
        _check_order(self.started_at, self.completed_at)
        return self


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
    compute_seconds: Seconds | None = None
    duration_seconds: Seconds | None = None
    started_at: Timestamp
    completed_at: Timestamp | None = None
    triggered_by: OptionalText
    actor: OptionalText
    branch: OptionalText | None = None
    jobs: list[RunWatchJob] = Field(default_factory=list, max_length=10_000)

    @model_validator(mode="after")
    def _completed_after_started(self) -> RunWatchRun:
        _check_order(self.started_at, self.completed_at)
        return self
