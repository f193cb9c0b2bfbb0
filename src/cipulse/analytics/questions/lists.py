"""The lists question: repositories and pipelines with their run metrics.

Repositories and pipelines, each with the run metrics of its attempts in the window, whole or
a page at a time, the dashboard's page of pipelines, and the overview's top pipelines."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from cipulse.analytics import rankings, run_metrics
from cipulse.analytics.definitions import RUN_METRICS
from cipulse.analytics.paging import (
    DEFAULT_PAGE,
    Page,
    PageRequest,
    Row,
    check_sort,
    ordered,
    page_of,
    page_range,
)
from cipulse.analytics.pipeline_search import EVERY_PIPELINE, PipelineSearch, searched_pipelines
from cipulse.analytics.questions.shared import LIST_SORTS, SLOWEST_FIRST, sampled
from cipulse.analytics.questions.summary import iso
from cipulse.analytics.rollups import add_run_tally, new_run_tally
from cipulse.analytics.window_figures import (
    Figures,
    pipeline_figures,
    run_durations,
    top_pipelines_by_duration,
)
from cipulse.domain.tallies import RunTally
from cipulse.domain.window import Window
from cipulse.storage import list_store
from cipulse.storage.database import Database

#: The run metrics of a listed row (``run_metrics.metrics_of``): the definitions' and
#: the counts by status.
_RUN_METRIC_FIELDS = frozenset({"by_status", *(metric.name for metric in RUN_METRICS)})
_DURATIONS = ("p50_duration_seconds", "p95_duration_seconds", "mean_duration_seconds")


def _listed(
    database: Database,
    org_id: str,
    window: Window,
    key: str,
    rows: list[dict[str, Any]],
    sort: str | None,
) -> list[dict[str, Any]]:
    """``rows`` (repositories or pipelines) with the run metrics of their attempts, in
    ``sort`` order: ``key`` names the row's field that holds a pipeline's id or its
    repository's."""
    check_sort(sort, LIST_SORTS)
    with database.read() as conn:
        figures = pipeline_figures(conn, org_id, window)
        owners = {row["id"]: row["repository_id"] for row in list_store.pipeline_rows(conn, org_id)}
    grouped: dict[str, RunTally] = {}
    for pipeline_id, tally in figures.runs.items():
        group = pipeline_id if key == "pipeline" else owners.get(pipeline_id, "")
        add_run_tally(grouped.setdefault(group, new_run_tally()), tally)
    listed = []
    for row in rows:
        created_at = iso(row.pop("created_at_ms"))
        tally = grouped.get(row["id"]) or new_run_tally()
        listed.append(
            {**row, "created_at": created_at, **_fields(run_metrics.metrics_of(window, tally))}
        )
    return ordered(listed, sort)


def repositories(
    database: Database, org_id: str, window: Window, page: PageRequest = DEFAULT_PAGE
) -> Page[Row]:
    page_range(page)
    return page_of(all_repositories(database, org_id, window, page.sort), None, page)


def all_repositories(
    database: Database, org_id: str, window: Window, sort: str | None
) -> list[dict[str, Any]]:
    with database.read() as conn:
        rows = list_store.repository_rows(conn, org_id)
    return _listed(database, org_id, window, "repository", rows, sort)


def pipelines(
    database: Database,
    org_id: str,
    window: Window,
    page: PageRequest = DEFAULT_PAGE,
    search: PipelineSearch = EVERY_PIPELINE,
) -> Page[Row]:
    page_range(page)
    return page_of(all_pipelines(database, org_id, window, page.sort, search), None, page)


def all_pipelines(
    database: Database, org_id: str, window: Window, sort: str | None, search: PipelineSearch
) -> list[dict[str, Any]]:
    """The pipelines of the window's filters that ``search`` keeps, in ``sort`` order."""
    with database.read() as conn:
        rows = searched_pipelines(conn, org_id, window, search)
    return _listed(database, org_id, window, "pipeline", rows, sort)


def pipeline_row(window: Window, row: dict[str, Any], figures: Figures) -> dict[str, Any]:
    """A pipeline's row with the run metrics of its tally in ``figures``."""
    row = {k: v for k, v in row.items() if k not in _RUN_METRIC_FIELDS}
    if "created_at_ms" in row:
        row["created_at"] = iso(row.pop("created_at_ms"))
    return {**row, **_fields(run_metrics.metrics_of(window, figures.runs[row["id"]]))}


def _fields(figures: run_metrics.RunFigures) -> dict[str, Any]:
    return {name: getattr(figures, name) for name in run_metrics.RunFigures.__slots__}


def pipelines_shown(
    database: Database,
    org_id: str,
    window: Window,
    sort: str,
    search: PipelineSearch,
    start: int,
    end: int,
) -> tuple[list[dict[str, Any]], int]:
    """The pipelines of the window's filters that ``search`` keeps, sorted as
    ``pipelines`` sorts them, rows ``[start, end)`` of them with every run metric, and
    how many there are. Duration histograms are read for the rows shown only, or the
    candidates of a slowest-first order: what the dashboard's pipelines page needs."""
    check_sort(sort, LIST_SORTS)
    field = sort.removeprefix("-")
    with database.read() as conn:
        figures = pipeline_figures(conn, org_id, window, histograms=False)
        rows = searched_pipelines(conn, org_id, window, search)
        figures.runs = {row["id"]: figures.runs.get(row["id"]) or new_run_tally() for row in rows}
        if sort in SLOWEST_FIRST:
            top_pipelines_by_duration(conn, org_id, figures, SLOWEST_FIRST[sort], end)
        elif field in ("p50_duration_seconds", "p95_duration_seconds"):
            run_durations(conn, org_id, figures, sorted(figures.runs))
        listed = [pipeline_row(window, row, figures) for row in rows]
        shown = ordered(listed, sort)[start:end]
        run_durations(conn, org_id, figures, [row["id"] for row in shown])
    return [pipeline_row(window, row, figures) for row in shown], len(listed)


def pipeline_highlights(
    database: Database, org_id: str, window: Window, count: int
) -> dict[str, Any]:
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
        listed_row = pipeline_row(window, row, figures)
        if row["id"] not in slowest:  # read without histograms: no durations
            listed_row.update(dict.fromkeys(_DURATIONS))
        listed.append(listed_row)
    samples = {key: tally.decided_runs for key, tally in figures.runs.items()}
    timed_rows = [r for r in listed if r["id"] in slowest]
    return {
        "slowest": ordered(timed_rows, "-p95_duration_seconds")[:count],
        "failing": rankings.most_failing_pipelines(listed, count),
        "flaky": rankings.flakiest_pipelines(listed, samples, count),
        "too_few": rankings.too_few_to_rank(listed, count),
    }
