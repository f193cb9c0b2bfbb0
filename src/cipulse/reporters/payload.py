"""The RunWatch payload the reporters build, as typed dicts.

The RunWatch payload the reporters build (the shape of ``POST /api/v1/ingest``), as typed
dicts ready for JSON, and what a converter hands back with it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, NotRequired, TypedDict

Mode = Literal["inline", "external"]


class RunWatchJob(TypedDict):
    name: str
    status: str
    job_id: NotRequired[int | str]
    job_url: NotRequired[str]
    started_at: NotRequired[str]
    completed_at: NotRequired[str]


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
