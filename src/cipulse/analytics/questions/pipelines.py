"""The names question: a pipeline, the repositories, the latest providers.

What the dashboard needs to name things: one pipeline (id, name, key, repository), the
repositories' names, and the provider of each pipeline's latest attempt."""

from __future__ import annotations

from dataclasses import dataclass

from cipulse.domain.accepted import canonical_uuid
from cipulse.errors import NotFound
from cipulse.storage import list_store
from cipulse.storage.database import Database


@dataclass(frozen=True, slots=True)
class PipelineInfo:
    """One pipeline, with the repository it belongs to."""

    id: str
    name: str
    pipeline_key: str
    repository_id: str
    repository: str
    repository_host: str
    created_at_ms: int


def pipeline(database: Database, org_id: str, pipeline_id: str) -> PipelineInfo:
    """One pipeline: id, name, key, repository."""
    found = canonical_uuid(pipeline_id)
    with database.read() as conn:
        rows = list_store.pipeline_rows(conn, org_id) if found else []
    for row in rows:
        if row["id"] == found:
            return PipelineInfo(**row)
    raise NotFound(f"pipeline: no pipeline {pipeline_id!r}")


def repository_names(database: Database, org_id: str) -> list[str]:
    with database.read() as conn:
        return [row["full_name"] for row in list_store.repository_rows(conn, org_id)]


def latest_providers(database: Database, org_id: str) -> dict[str, str]:
    """Per pipeline, the provider (github, gitlab, jenkins…) of its latest attempt."""
    with database.read() as conn:
        return list_store.latest_providers(conn, org_id)


def every_pipeline(database: Database, org_id: str) -> list[PipelineInfo]:
    """Every pipeline of the organisation, by repository and name (the Jobs page's choice)."""
    with database.read() as conn:
        return [PipelineInfo(**row) for row in list_store.pipeline_rows(conn, org_id)]
