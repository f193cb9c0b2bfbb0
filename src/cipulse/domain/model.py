"""The domain model: organisation → repository → pipeline → run → jobs.

The domain model: organisation → repository → pipeline → run attempt → job tree.

Converters build these from wire payloads; storage persists them. Timestamps are aware
``datetime`` objects in UTC; durations are seconds."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple

from cipulse.domain.changes import NO_CHANGE, Change
from cipulse.domain.runners import NO_RUNNER, Runner
from cipulse.domain.status import Status

TagValue = str | int | float


class SourceFormat(StrEnum):
    RUNWATCH = "runwatch"
    TRUNK = "trunk"
    GITHUB = "github"  # workflow_run / workflow_job webhooks
    GITLAB = "gitlab"  # Pipeline Hook / Job Hook webhooks


class WebhookProvider(StrEnum):
    """The code hosts whose webhooks cipulse receives."""

    GITHUB = "github"
    GITLAB = "gitlab"


class RunKeyScope(StrEnum):
    """What a run key is unique within.

    RunWatch ``run_id`` is unique per pipeline; a Trunk ``chainId`` is unique per repository
    (and child events know only the chain, not the pipeline)."""

    PIPELINE = "pipeline"
    REPOSITORY = "repository"


PROVIDER_HOSTS = {
    "github": "github.com",
    "gitlab": "gitlab.com",
    "bitbucket": "bitbucket.org",
}


@dataclass(frozen=True, slots=True)
class RepositoryRef:
    """A repository on a code host. ``github`` + ``acme/app`` (RunWatch) and ``github.com`` +
    ``acme``/``app`` (Trunk) name the same repository."""

    host: str
    full_name: str

    @property
    def identity(self) -> tuple[str, str]:
        """Code hosts compare repository names case-insensitively; so do we."""
        return (self.host.lower(), self.full_name.lower())


@dataclass(frozen=True, slots=True)
class PipelineRef:
    """A pipeline (workflow) definition within a repository, identified by ``key``."""

    key: str
    name: str


@dataclass(slots=True)
class JobSpan:
    """One node of an attempt's job tree: a job, stage, step or nested pipeline.

    ``node_key`` identifies the node within its attempt (RunWatch ``job_id`` or name, Trunk
    event id); ``definition_key`` identifies the job across runs (its name or sequence key);
    ``parent_node_key`` is the ``node_key`` of the parent node, if any."""

    node_key: str
    name: str
    definition_key: str
    kind: str
    status: Status
    raw_status: str | None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    duration_seconds: float | None = None
    url: str | None = None
    external_id: str | None = None
    parent_node_key: str | None = None
    tags: dict[str, TagValue] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    #: Why it failed, as the source states it (``domain/failure_reasons.py``: without one,
    #: a node that did not succeed keeps its raw status as its reason).
    failure_reason: str | None = None
    #: The name of the step that failed in it, where the source lists steps.
    failing_step: str | None = None
    #: Seconds it waited for a runner, from being queued to starting (``domain/runners.py``).
    queue_seconds: float | None = None
    #: The runner it ran on, as far as the source says.
    runner: Runner = NO_RUNNER


@dataclass(slots=True)
class RunAttempt:
    """One execution of a pipeline: run key + attempt number, with its jobs.

    When ``jobs_are_snapshot`` is true the jobs are the complete job set of the attempt and
    replace whatever was stored; otherwise they are merged into it node by node.
    ``root_node_key`` is the node key the run itself has in its tree (the Trunk run event's id):
    nodes whose parent is it are the top level."""

    repository: RepositoryRef
    pipeline: PipelineRef
    run_key: str
    run_key_scope: RunKeyScope
    attempt: int
    status: Status
    raw_status: str | None
    provider: str
    source_format: SourceFormat
    started_at: datetime | None
    completed_at: datetime | None = None
    duration_seconds: float | None = None
    compute_seconds: float | None = None
    run_number: int | None = None
    run_name: str | None = None
    run_url: str | None = None
    triggered_by: str | None = None
    actor: str | None = None
    branch: str | None = None
    mode: str | None = None
    root_node_key: str | None = None
    parent_run_key: str | None = None
    parent_node_key: str | None = None
    tags: dict[str, TagValue] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    jobs: list[JobSpan] = field(default_factory=list)
    jobs_are_snapshot: bool = True
    #: The commit, pull request and event it ran for, as far as the source says.
    change: Change = NO_CHANGE
    #: Seconds it waited before it started, where its source says (``domain/runners.py``).
    queue_seconds: float | None = None
    #: Why it failed, as the source states it (as ``JobSpan.failure_reason``).
    failure_reason: str | None = None


@dataclass(slots=True)
class DetachedSpan:
    """A job node that arrived without its run (Trunk events and webhooks come in any order
    and in separate requests). It is stored under the run (repository-scoped key) and attempt
    it names and joins the tree when the run arrives.

    A ``fallback`` span (a job as a GitLab pipeline event lists it) only fills in a node that
    is not finished yet: what the job's own events say wins, in whatever order they come."""

    repository: RepositoryRef
    run_key: str
    span: JobSpan
    attempt: int = 1
    fallback: bool = False


@dataclass(slots=True)
class Submission:
    """What one converted request asks storage to write."""

    attempts: list[RunAttempt] = field(default_factory=list)
    detached_spans: list[DetachedSpan] = field(default_factory=list)
    ingest_source: str | None = None
    #: Default branches the payload names (webhooks know them), by repository.
    default_branches: dict[RepositoryRef, str] = field(default_factory=dict)
    #: Webhook events: one per run or job, in any order, a state sometimes again. A finished
    #: attempt or job is then not replaced by one that ended earlier (``ended_earlier``), and
    #: an attempt's compute is the sum of its top-level jobs' durations, kept up to date as
    #: its jobs arrive.
    from_webhooks: bool = False
    #: Runs (repository, repository-scoped run key) whose attempts are retry rounds of their
    #: jobs (GitLab, ``domain/retry_rounds.py``), to derive again once this is stored.
    retry_round_runs: list[tuple[RepositoryRef, str]] = field(default_factory=list)
    #: What the converter could not take as sent but stored anyway (impossible timings,
    #: ``domain/timings.py``), one line each, naming the wire field: the 200 answer lists them.
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Organisation:
    id: str
    name: str
    created_at: datetime
    max_repositories: int | None
    max_runs_per_month: int | None


@dataclass(frozen=True, slots=True)
class ApiKeyInfo:
    """What is stored of an API key: never the key itself, only its hash and prefix."""

    id: str
    org_id: str
    org_name: str
    prefix: str
    name: str | None
    scopes: tuple[str, ...]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


API_KEY_SCOPES = ("ingest", "read")

# --- Dashboard users -----------------------------------------------------------------------

#: What a member may do in an organisation's dashboard.
ROLES = ("admin", "member")


class Membership(NamedTuple):
    """One organisation a user belongs to, and the user's role in it."""

    org_id: str
    org_name: str
    role: str


@dataclass(frozen=True, slots=True)
class User:
    """A person who signs in to the dashboard (never their password, only its hash is
    stored), with their organisations sorted by name."""

    id: str
    email: str
    created_at: datetime
    last_sign_in_at: datetime | None
    organisations: tuple[Membership, ...]
    disabled: bool = False


@dataclass(frozen=True, slots=True)
class Member:
    """A user as one organisation sees them; ``created_at`` is when they were added to it,
    ``other_organisations`` how many others they belong to (their account is not this
    organisation's alone to disable or delete)."""

    email: str
    role: str
    created_at: datetime
    last_sign_in_at: datetime | None
    disabled: bool = False
    other_organisations: int = 0


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in user looking at one of their organisations (``org_id``, ``org_name``,
    ``role``). ``organisations`` are all of theirs, sorted by name, to switch between."""

    user_id: str
    email: str
    org_id: str
    org_name: str
    role: str
    csrf_token: str
    expires_at_ms: int
    organisations: tuple[Membership, ...]
