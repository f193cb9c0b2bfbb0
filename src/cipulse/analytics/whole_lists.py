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
from typing import Generic, TypeVar

from cipulse.analytics import job_metrics, run_metrics
from cipulse.analytics.job_metrics import FlakyJob, JobFigures, PipelineName
from cipulse.analytics.job_order import by_key, keys_in_order
from cipulse.analytics.list_rows import PipelineRow, RepositoryRow
from cipulse.analytics.paging import MAX_PAGE, check_sort, ordered
from cipulse.analytics.pipeline_search import PipelineSearch
from cipulse.analytics.questions.flaky import BLANK_FLAKY
from cipulse.analytics.questions.run_answers import NO_ATTEMPT, Attempt
from cipulse.analytics.questions.shared import (
    FLAKY_SORTS,
    JOB_SORTS,
    LIST_SORTS,
    PIPELINE_SORTS,
    named,
)
from cipulse.analytics.rollups import new_run_tally
from cipulse.analytics.runner_metrics import queue_figures
from cipulse.analytics.service import AnalyticsService
from cipulse.analytics.window_figures import complete_jobs, job_figures
from cipulse.domain.histogram import Histogram
from cipulse.domain.tallies import JobTally
from cipulse.domain.window import Window
from cipulse.storage import list_store

#: Rows per batch of the lists of figures (runs come ``MAX_PAGE`` at a time).
BATCH_ROWS = 500
Item = TypeVar("Item")


@dataclass(frozen=True, slots=True)
class WholeList(Generic[Item]):
    """``blank``: a row with every field a row of the list has (the header of an export, of
    an empty one too); ``batches``: the rows, in order, a batch per step."""

    blank: Item
    batches: Iterator[list[Item]]


def _chunks(rows: Sequence[Item]) -> Iterator[list[Item]]:
    for start in range(0, len(rows), BATCH_ROWS):
        yield list(rows[start : start + BATCH_ROWS])


def _no_figures(window: Window) -> run_metrics.RunFigures:
    return run_metrics.metrics_of(window, new_run_tally())


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
) -> WholeList[PipelineRow]:
    """Every pipeline of the window's filters that ``search`` keeps, in ``sort`` order."""
    check_sort(sort, PIPELINE_SORTS)

    def batches() -> Iterator[list[PipelineRow]]:
        yield from _chunks(service.all_pipelines(org_id, window, sort, search))

    no_wait = queue_figures(Histogram())
    blank = PipelineRow("", "", "", "", "", "", 0, _no_figures(window), no_wait)
    return WholeList(blank, batches())


def repositories(
    service: AnalyticsService, org_id: str, window: Window, sort: str | None
) -> WholeList[RepositoryRow]:
    check_sort(sort, LIST_SORTS)

    def batches() -> Iterator[list[RepositoryRow]]:
        yield from _chunks(service.all_repositories(org_id, window, sort))

    return WholeList(RepositoryRow("", "", "", 0, _no_figures(window)), batches())


def flaky(
    service: AnalyticsService, org_id: str, window: Window, sort: str | None
) -> WholeList[FlakyJob]:
    check_sort(sort, FLAKY_SORTS)

    def batches() -> Iterator[list[FlakyJob]]:
        yield from _chunks(service.all_flaky(org_id, window, sort))

    return WholeList(BLANK_FLAKY, batches())


def jobs(
    service: AnalyticsService, org_id: str, window: Window, sort: str | None
) -> WholeList[JobFigures]:
    """Every job of the window, in ``sort`` order (as ``AnalyticsService.jobs`` pages it)."""
    check_sort(sort, JOB_SORTS)
    order = sort or "-total_duration_seconds"

    def batches() -> Iterator[list[JobFigures]]:
        scoped = service.scoped(org_id, window)  # the team's pipelines, in this thread
        with service.database.read() as conn:
            figures = job_figures(conn, org_id, scoped)
            figures.jobs = by_key(named(figures.jobs, scoped))
            names = {
                row["id"]: PipelineName(row["name"], row["repository"])
                for row in list_store.pipeline_rows(conn, org_id)
            }
        keys = keys_in_order(figures.jobs, order, names)
        if keys is None:  # by a duration percentile: every job complete first
            with service.database.read() as conn:
                complete_jobs(conn, org_id, figures, sorted(figures.jobs))
            yield from _chunks(ordered(job_metrics.job_rows(figures.jobs, names), order))
            return
        for start in range(0, len(keys), BATCH_ROWS):
            chosen = keys[start : start + BATCH_ROWS]
            with service.database.read() as conn:
                complete_jobs(conn, org_id, figures, chosen)
            yield job_metrics.job_rows({key: figures.jobs[key] for key in chosen}, names)

    blank = job_metrics.job_rows({("", ""): JobTally()}, {"": PipelineName("", "")})[0]
    return WholeList(blank, batches())
