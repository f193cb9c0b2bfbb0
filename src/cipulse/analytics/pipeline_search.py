"""Which pipelines a pipeline list holds: filters and the search.

Which pipelines a pipeline list holds: those the window's repository and pipeline filters
leave, narrowed by a search (text in the pipeline's or its repository's name, and the provider
of its latest attempt). The dashboard's Pipelines page, its CSV and the read API's
``/pipelines`` apply this one rule, so that an export holds exactly the rows of the view."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from cipulse.domain.window import Filters, Window
from cipulse.storage import list_store


@dataclass(frozen=True, slots=True)
class PipelineSearch:
    """``text``: part of the pipeline's name or of its repository's (any case; '' for
    all); ``latest_provider``: the provider its latest attempt ran on ('' for any)."""

    text: str = ""
    latest_provider: str = ""

    def keeps(self, row: dict[str, Any], providers: dict[str, str], filters: Filters) -> bool:
        """Whether the pipeline ``row`` (id, name, repository) is listed, ``providers``
        giving each pipeline's latest provider."""
        if not in_filters(row, filters):
            return False
        if self.latest_provider and providers.get(row["id"]) != self.latest_provider:
            return False
        needle = self.text.strip().lower()
        return not needle or needle in row["name"].lower() or needle in row["repository"].lower()


def in_filters(row: dict[str, Any], filters: Filters) -> bool:
    """Whether the window's repository and pipeline filters leave the pipeline ``row``."""
    if filters.repository is not None and row["repository"].lower() != filters.repository.lower():
        return False
    if filters.pipeline_id is not None and row["id"] != filters.pipeline_id:
        return False
    if filters.team_pipelines is not None and row["id"] not in filters.team_pipelines:
        return False
    return filters.pipeline_name is None or row["name"] == filters.pipeline_name


EVERY_PIPELINE = PipelineSearch()


def searched_pipelines(
    conn: Connection, org_id: str, window: Window, search: PipelineSearch
) -> list[dict[str, Any]]:
    """The rows of the pipelines (``list_store.pipeline_rows``) that the window's
    filters leave and ``search`` keeps."""
    providers = list_store.latest_providers(conn, org_id) if search.latest_provider else {}
    rows = list_store.pipeline_rows(conn, org_id)
    return [row for row in rows if search.keeps(row, providers, window.filters)]
