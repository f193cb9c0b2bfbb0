"""The parts of GitLab's Pipeline and Job Hook payloads cipulse reads.

The parts of GitLab's Pipeline Hook and Job Hook webhook payloads that cipulse reads
(GitLab's "Webhook events" reference). Unknown fields are ignored; fields GitLab sends as
null are optional here.

GitLab writes timestamps in more than one way: ``2024-01-15 10:30:00 UTC`` (most events),
``2024-01-15 10:30:00 +0100``, and ISO 8601 (``2021-02-23T02:41:37.886Z``): all are read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

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

    @field_validator("queued_duration")
    @classmethod
    def _started_in_range(cls, queued: float | None, info: ValidationInfo) -> float | None:
        """The pipeline started ``queued_duration`` after it was created (converter.py). A
        field's check, not the model's, so that it is reported with the other fields'."""
        created = info.data.get("created_at")
        if created is not None and instant_problem(
            created + timedelta(seconds=max(queued or 0, 0))
        ):
            raise ValueError(f"created_at plus queued_duration must be {INSTANT_RANGE}")
        return queued


def repository_name(path_with_namespace: object, web_url: object) -> str | None:
    """The project's path (``group/subgroup/name``): as sent, else read from its web URL."""
    if isinstance(path_with_namespace, str) and path_with_namespace:
        return path_with_namespace
    if isinstance(web_url, str) and web_url:
        return urlsplit(web_url).path.strip("/") or None
    return None


REPOSITORY_PROBLEM = "required (or project.web_url or repository.homepage to read it from)"


def _repository_problem(project: Any, repository: Any) -> str | None:
    """Why the repository cannot be named (None: it can), from the values of a model or of
    a raw body alike: ``project`` and ``repository`` objects, or None."""

    def get(thing: Any, key: str) -> object:
        return thing.get(key) if isinstance(thing, dict) else getattr(thing, key, None)

    web_url = get(project, "web_url") or get(repository, "homepage")
    if repository_name(get(project, "path_with_namespace"), web_url) is None:
        return f"project.path_with_namespace: {REPOSITORY_PROBLEM}"
    return None


def raw_repository_problems(body: Any, project_required: bool) -> list[str]:
    """``_repository_problem`` of a body the schema refused, when its objects are readable
    (otherwise the schema's own problems say what is wrong with them)."""
    if not isinstance(body, dict):
        return []
    project, repository = body.get("project"), body.get("repository")
    readable = isinstance(project, dict) or (project is None and not project_required)
    if not readable or not isinstance(repository, dict | None):
        return []
    problem = _repository_problem(project, repository)
    return [] if problem is None else [problem]


class CommitAuthor(_Lenient):
    name: OptionalText | None = None


class Commit(_Lenient):
    message: str | None = None
    author: CommitAuthor | None = None


class MergeRequest(_Lenient):
    iid: Annotated[int, Field(ge=1, le=2**63 - 1)] | None = None
    title: OptionalText | None = None
    url: Url | None = None
    source_branch: OptionalText | None = None
    target_branch: OptionalText | None = None


class PipelineEvent(_Lenient):
    object_kind: OptionalText | None = None
    object_attributes: PipelineAttributes
    project: Project
    user: User | None = None
    builds: list[Build] = []
    commit: Commit | None = None
    merge_request: MergeRequest | None = None

    @model_validator(mode="after")
    def _names_its_repository(self) -> PipelineEvent:
        if _repository_problem(self.project, None) is not None:
            raise field_error("project.path_with_namespace", REPOSITORY_PROBLEM)
        return self


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

    @model_validator(mode="after")
    def _names_its_repository(self) -> JobEvent:
        if _repository_problem(self.project, self.repository) is not None:
            raise field_error("project.path_with_namespace", REPOSITORY_PROBLEM)
        return self
