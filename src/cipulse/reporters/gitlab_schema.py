"""The fields the reporter reads from GitLab's REST API.

The fields the reporter reads from the GitLab REST API (``GET /projects/:id/pipelines/:id``
and ``…/pipelines/:id/jobs``); everything else is ignored."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class _Api(BaseModel):
    model_config = ConfigDict(extra="ignore")


class User(_Api):
    username: str


class Pipeline(_Api):
    id: int
    project_id: int | None = None
    name: str | None = None  # workflow:name, GitLab 16.3+
    status: str
    sha: str | None = None
    source: str | None = None
    ref: str | None = None
    tag: bool = False
    web_url: str | None = None
    user: User | None = None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    updated_at: datetime | None = None


class Runner(_Api):
    id: int | None = None
    description: str | None = None


class Job(_Api):
    id: int
    name: str
    stage: str | None = None
    status: str
    allow_failure: bool = False
    failure_reason: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    queued_duration: float | None = None
    web_url: str | None = None
    runner: Runner | None = None
    tag_list: list[str] = []
