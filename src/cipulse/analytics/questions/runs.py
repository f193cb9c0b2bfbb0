"""The runs question: run attempts a page at a time, and one with its jobs.

Run attempts newest first (a keyset page at a time), one attempt with its job tree and the
other attempts of its run, each pipeline's latest attempts, and where the runs are."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from cipulse.analytics.paging import Page, check_limit, keyset_page, keyset_position
from cipulse.analytics.questions.costs import attempt_cost
from cipulse.analytics.questions.job_tree import job_tree
from cipulse.analytics.questions.run_answers import Attempt, OtherAttempt, RunDetail
from cipulse.analytics.questions.run_tests import failed_tests
from cipulse.analytics.questions.run_triage import run_triage
from cipulse.analytics.window import parse_time
from cipulse.domain.accepted import canonical_uuid
from cipulse.domain.window import Window
from cipulse.errors import NotFound
from cipulse.storage import analytics_store as store
from cipulse.storage import list_store
from cipulse.storage.database import Database


@dataclass(frozen=True, slots=True)
class RunSpan:
    """When the first and the latest stored run attempts started (milliseconds, UTC)."""

    first_ms: int
    last_ms: int

    @property
    def first_day(self) -> date:
        return datetime.fromtimestamp(self.first_ms / 1000, UTC).date()

    @property
    def last_day(self) -> date:
        return datetime.fromtimestamp(self.last_ms / 1000, UTC).date()


def runs(
    database: Database, org_id: str, window: Window, limit: int, cursor: str | None
) -> Page[Attempt]:
    """Attempts newest first, a page at a time; returns the page and the next cursor."""
    check_limit(limit)
    after = keyset_position(cursor)
    with database.read() as conn:
        rows = list_store.attempt_page(conn, org_id, window, limit + 1, after)
    return keyset_page(rows, limit, Attempt.of)


def run(database: Database, org_id: str, attempt_id: str) -> RunDetail:
    """One attempt with its job tree, tags, metrics and the other attempts of its run."""
    found = canonical_uuid(attempt_id)
    with database.read() as conn:
        row = list_store.attempt_detail(conn, org_id, found) if found else None
        if row is None or found is None:
            raise NotFound(f"pipeline_run_id: no run attempt {attempt_id!r}")
        jobs = list_store.jobs_of(conn, org_id, [found])
        siblings = list_store.sibling_attempts(conn, org_id, row["pipeline_id"], row["run_key"])
        triage = run_triage(conn, org_id, row, jobs)
        superseded = any(sibling["attempt"] > row["attempt"] for sibling in siblings)
        cost = attempt_cost(conn, org_id, row, jobs, superseded)
        failed = failed_tests(conn, org_id, found)
    return RunDetail(
        attempt=Attempt.of(row),
        attempts=[
            OtherAttempt(
                id=sibling["id"],
                attempt=sibling["attempt"],
                status=sibling["status"],
                started_at_ms=sibling["started_at_ms"],
                completed_at_ms=sibling["completed_at_ms"],
            )
            for sibling in siblings
        ],
        jobs=job_tree(jobs, row.get("root_node_key")),
        triage=triage,
        cost=cost,
        failed_tests=failed,
    )


@dataclass(frozen=True, slots=True)
class LatestAttempt:
    """One of a pipeline's latest attempts (a bar of its sparkline)."""

    id: str
    status: str
    duration_seconds: float | None
    started_at_ms: int | None
    branch: str | None
    provider: str | None


def latest_runs(
    database: Database, org_id: str, pipeline_ids: Sequence[str], window: Window, count: int
) -> dict[str, list[LatestAttempt]]:
    """Per pipeline, its ``count`` latest attempts up to the window's end that pass the
    filters, oldest first."""
    with database.read() as conn:
        latest = list_store.latest_attempts(
            conn, org_id, pipeline_ids, window.filters, window.until_ms, count
        )
    return {
        pipeline_id: [
            LatestAttempt(
                id=row["id"],
                status=row["status"],
                duration_seconds=row["duration_seconds"],
                started_at_ms=row["started_at_ms"],
                branch=row["branch"],
                provider=row["provider"],
            )
            for row in rows
        ]
        for pipeline_id, rows in latest.items()
    }


def run_span(database: Database, org_id: str, pipeline_id: str | None) -> RunSpan | None:
    """When the organisation's (or a pipeline's) runs started, first to latest: where to
    look when a window holds none of them."""
    with database.read() as conn:
        span = store.run_span(conn, org_id, pipeline_id)
    return None if span is None else RunSpan(*span)


def attempt_that_turned_red(
    database: Database, org_id: str, pipeline_id: str, branch: str | None, red_since: str
) -> str | None:
    """The id of the attempt whose failure started a red period (``red_since`` as the
    recovery endpoint gives it)."""
    moment = parse_time("red_since", red_since)
    found = canonical_uuid(pipeline_id)
    if found is None:
        return None
    with database.read() as conn:
        return list_store.attempt_completed_at(
            conn, org_id, found, branch, int(moment.timestamp() * 1000)
        )
