"""The names question: a pipeline, the repositories, the latest providers.

What the dashboard needs to name things: one pipeline (id, name, key, repository), the
repositories' names, and the provider of each pipeline's latest attempt."""

from __future__ import annotations

from typing import Any

from cipulse.analytics.questions.summary import iso
from cipulse.domain.accepted import canonical_uuid
from cipulse.errors import NotFound
from cipulse.storage import analytics_store as store
from cipulse.storage.database import Database


def pipeline(database: Database, org_id: str, pipeline_id: str) -> dict[str, Any]:
    """One pipeline: id, name, key, repository."""
    found = canonical_uuid(pipeline_id)
    with database.read() as conn:
        rows = store.pipeline_rows(conn, org_id) if found else []
    for row in rows:
        if row["id"] == found:
            row["created_at"] = iso(row.pop("created_at_ms"))
            return row
    raise NotFound(f"pipeline: no pipeline {pipeline_id!r}")


def repository_names(database: Database, org_id: str) -> list[str]:
    with database.read() as conn:
        return [row["full_name"] for row in store.repository_rows(conn, org_id)]


def latest_providers(database: Database, org_id: str) -> dict[str, str]:
    """Per pipeline, the provider (github, gitlab, jenkins…) of its latest attempt."""
    with database.read() as conn:
        return store.latest_providers(conn, org_id)
