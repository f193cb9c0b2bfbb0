"""Every row of a list, in its pages' order, a batch at a time (CSV).

Whole lists, for CSV exports: every row of a list view, in the order its pages show them,
a batch at a time.

Run attempts are read by keyset pages (newest first, as ``/runs`` pages them), so an export of
any length holds one page in memory. The other lists hold figures per job, pipeline or
repository: they are computed once, in one read, their size is the number of jobs or pipelines
(not of runs), and they are handed out in batches; jobs read their duration histograms a batch
at a time (all of them first only to sort by a duration percentile).

Each batch is one step of a generator that does its own short reads and never holds a database
transaction between steps: the web layer runs each step in a database thread and writes it out
before it asks for the next."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from cipulse.analytics import job_metrics, run_metrics
from cipulse.analytics.job_order import Names, by_key, keys_in_order
from cipulse.analytics.paging import MAX_PAGE, check_sort, ordered
from cipulse.analytics.pipeline_search import PipelineSearch
from cipulse.analytics.questions.flaky import BLANK_FLAKY
from cipulse.analytics.questions.run_answers import NO_ATTEMPT, Attempt
from cipulse.analytics.questions.shared import FLAKY_SORTS, JOB_SORTS, LIST_SORTS
from cipulse.analytics.rollups import new_run_tally
from cipulse.analytics.service import AnalyticsService
from cipulse.analytics.window_figures import complete_jobs, job_figures
from cipulse.domain.tallies import JobTally
from cipulse.domain.window import Window
from cipulse.storage import list_store

#: Rows per batch of the lists of figures (runs come ``MAX_PAGE`` at a time).
BATCH_ROWS = 500
_PIPELINE_FIELDS = (
    *("id", "name", "pipeline_key", "repository_id", "repository", "repository_host"),
    "created_at",
)
_REPOSITORY_FIELDS = ("id", "host", "full_name", "created_at")
Item = TypeVar("Item")
Batches = Iterator[list[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class WholeList(Generic[Item]):
    """``blank``: a row with every field a row of the list has (the header of an export, of
    an empty one too); ``batches``: the rows, in order, a batch per step."""

    blank: Item
    batches: Iterator[list[Item]]


def _chunks(rows: Sequence[dict[str, Any]]) -> Batches:
    for start in range(0, len(rows), BATCH_ROWS):
        yield list(rows[start : start + BATCH_ROWS])


def _listed_blank(fields: Sequence[str], window: Window) -> dict[str, Any]:
    return {**dict.fromkeys(fields), **run_metrics.metrics_of(window, new_run_tally())}


def runs(service: AnalyticsService, org_id: str, window: Window) -> WholeList[Attempt]:
    """Every run attempt of the window, newest first."""

    def batches() -> Iterator[list[Attempt]]:
        cursor = None
        while True:
            items, cursor = service.runs(org_id, window, MAX_PAGE, cursor)
            yield items
            if cursor is None:
                return

    return WholeList(NO_ATTEMPT, batches())


def pipelines(
    service: AnalyticsService,
    org_id: str,
    window: Window,
    sort: str | None,
    search: PipelineSearch,
) -> WholeList[dict[str, Any]]:
    """Every pipeline of the window's filters that ``search`` keeps, in ``sort`` order."""
    check_sort(sort, LIST_SORTS)

    def batches() -> Batches:
        yield from _chunks(service.all_pipelines(org_id, window, sort, search))

    return WholeList(_listed_blank(_PIPELINE_FIELDS, window), batches())


def repositories(
    service: AnalyticsService, org_id: str, window: Window, sort: str | None
) -> WholeList[dict[str, Any]]:
    check_sort(sort, LIST_SORTS)

    def batches() -> Batches:
        yield from _chunks(service.all_repositories(org_id, window, sort))

    return WholeList(_listed_blank(_REPOSITORY_FIELDS, window), batches())


def flaky(
    service: AnalyticsService, org_id: str, window: Window, sort: str | None
) -> WholeList[dict[str, Any]]:
    check_sort(sort, FLAKY_SORTS)

    def batches() -> Batches:
        yield from _chunks(service.all_flaky(org_id, window, sort))

    return WholeList(dict(BLANK_FLAKY), batches())


def _named(rows: list[dict[str, Any]], names: Names) -> list[dict[str, Any]]:
    for row in rows:
        row.update(names.get(row["pipeline_id"], {}))
    return rows


def jobs(
    service: AnalyticsService, org_id: str, window: Window, sort: str | None
) -> WholeList[dict[str, Any]]:
    """Every job of the window, in ``sort`` order (as ``AnalyticsService.jobs`` pages it)."""
    check_sort(sort, JOB_SORTS)
    order = sort or "-total_duration_seconds"

    def batches() -> Batches:
        with service.database.read() as conn:
            figures = job_figures(conn, org_id, window)
            figures.jobs = by_key(figures.jobs)
            names = {
                row["id"]: {"pipeline": row["name"], "repository": row["repository"]}
                for row in list_store.pipeline_rows(conn, org_id)
            }
        keys = keys_in_order(figures.jobs, order, names)
        if keys is None:  # by a duration percentile: every job complete first
            with service.database.read() as conn:
                complete_jobs(conn, org_id, figures, sorted(figures.jobs))
            yield from _chunks(ordered(_named(job_metrics.job_rows(figures.jobs), names), order))
            return
        for start in range(0, len(keys), BATCH_ROWS):
            chosen = keys[start : start + BATCH_ROWS]
            with service.database.read() as conn:
                complete_jobs(conn, org_id, figures, chosen)
            yield _named(job_metrics.job_rows({key: figures.jobs[key] for key in chosen}), names)

    blank = job_metrics.job_rows({("", ""): JobTally()})[0]
    return WholeList({**blank, "pipeline": None, "repository": None}, batches())
