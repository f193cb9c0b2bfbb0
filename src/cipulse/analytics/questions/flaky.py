"""The flaky question: jobs that failed and then passed on a retry.

Flaky jobs, most flaky first, with what their retries cost, at the level the window's
filters ask for (by default the job level, as every job list)."""

from __future__ import annotations

from cipulse.analytics.job_metrics import FlakyJob, PipelineName
from cipulse.analytics.job_order import by_key
from cipulse.analytics.paging import (
    DEFAULT_PAGE,
    Page,
    PageRequest,
    check_sort,
    ordered,
    page_of,
    page_range,
)
from cipulse.analytics.questions.shared import (
    FLAKY_SORTS,
    Names,
    at_level,
    pipeline_names,
    ratio,
)
from cipulse.analytics.window_figures import Figures, job_figures
from cipulse.domain.window import Window
from cipulse.storage.database import Database


def flaky(
    database: Database, org_id: str, window: Window, page: PageRequest = DEFAULT_PAGE
) -> Page[FlakyJob]:
    """A page of the flaky jobs, most flaky first, with what their retries cost."""
    page_range(page)
    return page_of(all_flaky(database, org_id, window, page.sort), None, page)


def all_flaky(database: Database, org_id: str, window: Window, sort: str | None) -> list[FlakyJob]:
    """Every flaky job of the window in ``sort`` order (None: most flaky first)."""
    check_sort(sort, FLAKY_SORTS)
    with database.read() as conn:
        figures = job_figures(conn, org_id, window)
        figures.jobs = by_key(at_level(figures.jobs, window))
    return ordered(flaky_rows(figures, pipeline_names(database, org_id)), sort)


def flaky_rows(figures: Figures, names: Names) -> list[FlakyJob]:
    """A row per job with flaky runs, most flaky runs first."""
    rows = []
    for (pipeline_id, definition), tally in figures.jobs.items():
        if not tally.flaky_count:
            continue
        executions = sum(tally.by_status.values())
        rows.append(
            FlakyJob(
                pipeline_id=pipeline_id,
                names=names.get(pipeline_id),
                job=tally.name,
                definition_key=definition,
                level=tally.level or "job",
                flaky_count=tally.flaky_count,
                runs=executions,
                flaky_runs_per_execution=ratio(tally.flaky_count, executions),
                retry_compute_seconds=tally.retry_compute_seconds,
                last_flaky_at_ms=tally.last_flaky_at_ms,
            )
        )
    rows.sort(key=lambda row: (-row.flaky_count, -(row.flaky_runs_per_execution or 0)))
    return rows


#: A flaky job with every field: the columns of an export, empty or not.
BLANK_FLAKY = FlakyJob("", PipelineName("", ""), "", "", "job", 0, 0, None, 0.0, None)
