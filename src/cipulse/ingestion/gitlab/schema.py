"""The parts of GitLab's Pipeline Hook and Job Hook webhook payloads that cipulse reads
(GitLab's "Webhook events" reference). Unknown fields are ignored; fields GitLab sends as
null are optional here.

GitLab writes timestamps in more than one way: ``2024-01-15 10:30:00 UTC`` (most events),
``2024-01-15 10:30:00 +0100``, and ISO 8601 (``2021-02-23T02:41:37.886Z``): all are read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, model_validator

from cipulse.domain.accepted import INSTANT_RANGE, instant_problem
from cipulse.ingestion.validation import field_error
from cipulse.ingestion.wire_types import (
    InRange,
    Int64,
    LaxSignedSeconds,
    Name,
    OptionalText,
    RetryCount,
    Url,
)

TIMESTAMP_FORMATS = ("%Y-%m-%d %H:%M:%S %Z", "%Y-%m-%d %H:%M:%S %z")


def parse_timestamp(value: object) -> object:
    """A GitLab timestamp as an aware datetime; other values are left to pydantic (and a
    string in no known form is refused with the forms it may take)."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if len(text) == 23 and text.endswith(" UTC"):  # the usual form, read without strptime
        try:
            return datetime.fromisoformat(text[:19]).replace(tzinfo=UTC)
        except ValueError:
            pass
    for form in TIMESTAMP_FORMATS:
        try:
            parsed = datetime.strptime(text, form)
        except ValueError:
            continue
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            "must be a timestamp such as 2024-01-15 10:30:00 UTC or 2024-01-15T10:30:00Z"
        ) from None
    if parsed.tzinfo is None:
        raise ValueError("must name its time zone (UTC, an offset or Z)")
    return parsed


Timestamp = Annotated[datetime, BeforeValidator(parse_timestamp), InRange]
#: Durations and queue times: negative ones are stored as unknown with a warning, not refused.
Seconds = LaxSignedSeconds


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class User(_Lenient):
    username: Name | None = None


class Project(_Lenient):
    id: Int64 | None = None
    name: OptionalText | None = None
    web_url: Url | None = None
    path_with_namespace: Name | None = None
    default_branch: OptionalText | None = None
    ci_config_path: OptionalText | None = None


class Runner(_Lenient):
    id: Int64 | None = None
    description: OptionalText | None = None
    tags: list[OptionalText] = []


class Build(_Lenient):
    """A job as a Pipeline Hook lists it."""

    id: Int64
    name: Name
    stage: OptionalText | None = None
    status: OptionalText
    created_at: Timestamp | None = None
    started_at: Timestamp | None = None
    finished_at: Timestamp | None = None
    duration: Seconds | None = None
    queued_duration: Seconds | None = None
    allow_failure: bool | None = None
    failure_reason: OptionalText | None = None
    runner: Runner | None = None


class PipelineAttributes(_Lenient):
    id: Int64
    iid: Int64 | None = None
    name: OptionalText | None = None
    ref: OptionalText | None = None
    tag: bool | None = None
    sha: OptionalText | None = None
    source: OptionalText | None = None
    status: OptionalText
    created_at: Timestamp
    finished_at: Timestamp | None = None
    duration: Seconds | None = None
    queued_duration: Seconds | None = None
    url: Url | None = None

    @model_validator(mode="after")
    def _started_in_range(self) -> PipelineAttributes:
        """The pipeline started ``queued_duration`` after it was created (converter.py)."""
        queued = timedelta(seconds=max(self.queued_duration or 0, 0))
        if instant_problem(self.created_at + queued) is not None:
            raise field_error(
                "queued_duration", f"created_at plus queued_duration must be {INSTANT_RANGE}"
            )
        return self


class PipelineEvent(_Lenient):
    object_kind: OptionalText | None = None
    object_attributes: PipelineAttributes
    project: Project
    user: User | None = None
    builds: list[Build] = []


class RepositoryInfo(_Lenient):
    name: OptionalText | None = None
    homepage: Url | None = None


class JobEvent(_Lenient):
    object_kind: OptionalText | None = None
    ref: OptionalText | None = None
    build_id: Int64
    build_name: Name
    build_stage: OptionalText | None = None
    build_status: OptionalText
    build_created_at: Timestamp | None = None
    build_started_at: Timestamp | None = None
    build_finished_at: Timestamp | None = None
    build_duration: Seconds | None = None
    build_queued_duration: Seconds | None = None
    build_allow_failure: bool | None = None
    build_failure_reason: OptionalText | None = None
    retries_count: RetryCount | None = None
    pipeline_id: Int64
    project: Project | None = None
    repository: RepositoryInfo | None = None
    runner: Runner | None = None
    user: User | None = None
