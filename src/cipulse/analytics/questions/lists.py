"""The lists question: repositories and pipelines with their run metrics.

Repositories and pipelines, each with the run metrics of its attempts in the window, whole or
a page at a time, the dashboard's page of pipelines, and the overview's top pipelines."""

from __future__ import annotations

from dataclasses import dataclass, replace

from cipulse.analytics import rankings
from cipulse.analytics.list_rows import FailingPipeline, FlakyPipeline, PipelineRow, RepositoryRow
from cipulse.analytics.paging import (
    DEFAULT_PAGE,
    Page,
    PageRequest,
    check_sort,
    ordered,
    page_of,
    page_range,
)
from cipulse.analytics.pipeline_search import EVERY_PIPELINE, PipelineSearch, searched_pipelines
from cipulse.analytics.questions.shared import (
    LIST_SORTS,
    PIPELINE_SORTS,
    QUEUE_SORTS,
    SLOWEST_FIRST,
    sampled,
)
from cipulse.analytics.rollups import add_run_tally, new_run_tally
from cipulse.analytics.run_metrics import metrics_of
from cipulse.analytics.runner_figures import queue_by_pipeline
from cipulse.analytics.runner_metrics import queue_figures
from cipulse.analytics.window_figures import (
    pipeline_figures,
    run_durations,
    top_pipelines_by_duration,
)
from cipulse.domain.histogram import Histogram
from cipulse.domain.tallies import RunTally
from cipulse.domain.window import Window
from cipulse.storage import list_store
from cipulse.storage.database import Database


@dataclass(frozen=True, slots=True)
class PipelineHighlights:
    """The overview's top pipelines: the slowest (p95), those failing most, the flakiest,
    and, for a list with nothing to rank, those with too few runs to."""

    slowest: list[PipelineRow]
    failing: list[FailingPipeline]
    flaky: list[FlakyPipeline]
    too_few: list[PipelineRow]


def _grouped(
    database: Database, org_id: str, window: Window, by_repository: bool
) -> dict[str, RunTally]:
    """The window's run tallies per pipeline, or per repository."""
    with database.read() as conn:
        figures = pipeline_figures(conn, org_id, window)
        owners = {row["id"]: row["repository_id"] for row in list_store.pipeline_rows(conn, org_id)}
    grouped: dict[str, RunTally] = {}
    for pipeline_id, tally in figures.runs.items():
        group = owners.get(pipeline_id, "") if by_repository else pipeline_id
        add_run_tally(grouped.setdefault(group, new_run_tally()), tally)
    return grouped


def repositories(
    database: Database, org_id: str, window: Window, page: PageRequest = DEFAULT_PAGE
) -> Page[RepositoryRow]:
    page_range(page)
    return page_of(all_repositories(database, org_id, window, page.sort), None, page)


def all_repositories(
    database: Database, org_id: str, window: Window, sort: str | None
) -> list[RepositoryRow]:
    """The repositories with the run figures of their attempts, in ``sort`` order."""
    with database.read() as conn:
        rows = list_store.repository_rows(conn, org_id)
    check_sort(sort, LIST_SORTS)
    grouped = _grouped(database, org_id, window, by_repository=True)
    listed = [
        RepositoryRow.of(row, metrics_of(window, grouped.get(row["id"]) or new_run_tally()))
        for row in rows
    ]
    return ordered(listed, sort)


def pipelines(
    database: Database,
    org_id: str,
    window: Window,
    page: PageRequest = DEFAULT_PAGE,
    search: PipelineSearch = EVERY_PIPELINE,
) -> Page[PipelineRow]:
    page_range(page)
    found = page_of(_pipeline_rows(database, org_id, window, page.sort, search), None, page)
    return Page(_with_queues(database, org_id, window, found.items), found.next_cursor)


def all_pipelines(
    database: Database, org_id: str, window: Window, sort: str | None, search: PipelineSearch
) -> list[PipelineRow]:
    """The pipelines of the window's filters that ``search`` keeps, in ``sort`` order, with
    their jobs' waits."""
    listed = _pipeline_rows(database, org_id, window, sort, search)
    return _with_queues(database, org_id, window, listed)


def _pipeline_rows(
    database: Database, org_id: str, window: Window, sort: str | None, search: PipelineSearch
) -> list[PipelineRow]:
    with database.read() as conn:
        rows = searched_pipelines(conn, org_id, window, search)
    check_sort(sort, PIPELINE_SORTS)
    grouped = _grouped(database, org_id, window, by_repository=False)
    listed = [
        PipelineRow.of(row, metrics_of(window, grouped.get(row["id"]) or new_run_tally()))
        for row in rows
    ]
    if _by_queue(sort):
        listed = _with_queues(database, org_id, window, listed)
    return ordered(listed, sort)


def _by_queue(sort: str | None) -> bool:
    """Whether ``sort`` orders by the jobs' waits (every row's are read before)."""
    return bool(sort) and (sort or "").removeprefix("-") in QUEUE_SORTS


def _with_queues(
    database: Database, org_id: str, window: Window, rows: list[PipelineRow]
) -> list[PipelineRow]:
    """The rows with their jobs' waits, read for these pipelines only (none waited: the
    figures of an empty sample); rows that hold theirs already are kept."""
    wanted = [row.id for row in rows if row.queue is None]
    if not wanted:
        return rows
    with database.read() as conn:
        waits = queue_by_pipeline(conn, org_id, window, wanted)
    return [
        row
        if row.queue is not None
        else replace(row, queue=queue_figures(waits.get(row.id, Histogram())))
        for row in rows
    ]


def pipelines_shown(
    database: Database,
    org_id: str,
    window: Window,
    sort: str,
    search: PipelineSearch,
    start: int,
    end: int,
) -> tuple[list[PipelineRow], int]:
    """The pipelines of the window's filters that ``search`` keeps, sorted as
    ``pipelines`` sorts them, rows ``[start, end)`` of them with every run metric, and
    how many there are. Duration histograms are read for the rows shown only, or the
    candidates of a slowest-first order: what the dashboard's pipelines page needs."""
    check_sort(sort, PIPELINE_SORTS)
    field = sort.removeprefix("-")
    with database.read() as conn:
        figures = pipeline_figures(conn, org_id, window, histograms=False)
        rows = searched_pipelines(conn, org_id, window, search)
        figures.runs = {row["id"]: figures.runs.get(row["id"]) or new_run_tally() for row in rows}
        if sort in SLOWEST_FIRST:
            top_pipelines_by_duration(conn, org_id, figures, SLOWEST_FIRST[sort], end)
        elif field in ("p50_duration_seconds", "p95_duration_seconds"):
            run_durations(conn, org_id, figures, sorted(figures.runs))
        listed = [PipelineRow.of(row, metrics_of(window, figures.runs[row["id"]])) for row in rows]
    if _by_queue(sort):
        listed = _with_queues(database, org_id, window, listed)
    with database.read() as conn:
        shown = ordered(listed, sort)[start:end]
        run_durations(conn, org_id, figures, [row.id for row in shown])
    found = [replace(row, figures=metrics_of(window, figures.runs[row.id])) for row in shown]
    return _with_queues(database, org_id, window, found), len(listed)


def pipeline_highlights(
    database: Database, org_id: str, window: Window, count: int, failure_class: str | None = None
) -> PipelineHighlights:
    """The ``count`` slowest pipelines (p95), those failing most and the flakiest,
    ranked as ``rankings`` says (a minimum sample, by impact), from one read of the
    window's figures without histograms but for the pipelines that may be slowest."""
    with database.read() as conn:
        figures = pipeline_figures(conn, org_id, window, histograms=False)
        timed = replace(figures, runs=sampled(figures.runs, window))
        slowest = set(top_pipelines_by_duration(conn, org_id, timed, 95, count))
        rows = list_store.pipeline_rows(conn, org_id)
    listed = []
    for row in rows:
        if row["id"] not in figures.runs:
            continue
        found = metrics_of(window, figures.runs[row["id"]])
        if row["id"] not in slowest:  # read without histograms: no durations
            found = replace(
                found,
                p50_duration_seconds=None,
                p95_duration_seconds=None,
                mean_duration_seconds=None,
            )
        listed.append(PipelineRow.of(row, found))
    samples = {key: tally.decided_runs for key, tally in figures.runs.items()}
    timed_rows = [r for r in listed if r.id in slowest]
    return PipelineHighlights(
        slowest=ordered(timed_rows, "-p95_duration_seconds")[:count],
        failing=rankings.most_failing_pipelines(listed, count, failure_class),
        flaky=rankings.flakiest_pipelines(listed, samples, count),
        too_few=rankings.too_few_to_rank(listed, count),
    )
