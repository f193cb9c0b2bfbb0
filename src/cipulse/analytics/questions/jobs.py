"""The jobs question: job figures per (pipeline, job), and the top lists.

Job metrics per (pipeline, job) over the jobs of the attempts in a window, a page at a time
(duration percentiles read for the jobs of the page only), and the overview's slowest,
most failing and flakiest jobs."""

from __future__ import annotations

from dataclasses import dataclass, replace

from cipulse.analytics import job_metrics, rankings
from cipulse.analytics.job_metrics import FlakyJob, JobFigures
from cipulse.analytics.job_order import by_key, keys_in_order
from cipulse.analytics.paging import (
    DEFAULT_PAGE,
    Page,
    PageRequest,
    check_sort,
    cursor_after,
    ordered,
    page_of,
    page_range,
)
from cipulse.analytics.questions.flaky import flaky_rows
from cipulse.analytics.questions.shared import (
    JOB_SORTS,
    SLOWEST_FIRST,
    at_level,
    pipeline_names,
    sampled,
)
from cipulse.analytics.rankings import FailingJob
from cipulse.analytics.window_figures import complete_jobs, job_figures, top_by_duration
from cipulse.domain.window import Window
from cipulse.storage.database import Database

DEFAULT_SORT = "-total_duration_seconds"


@dataclass(frozen=True, slots=True)
class JobHighlights:
    """The overview's top jobs: the slowest (p95), the most failing and the flakiest."""

    slowest: list[JobFigures]
    failing: list[FailingJob]
    flaky: list[FlakyJob]


def jobs(
    database: Database, org_id: str, window: Window, page: PageRequest = DEFAULT_PAGE
) -> Page[JobFigures]:
    """Job metrics per (pipeline, job) over the jobs of the attempts in the window, a
    page at a time (by default the most total time first). Duration percentiles are read
    for the jobs of the page only, or for all of them to sort by one."""
    check_sort(page.sort, JOB_SORTS)
    sort = page.sort or DEFAULT_SORT
    start, end = page_range(page)
    names = pipeline_names(database, org_id)
    with database.read() as conn:
        figures = job_figures(conn, org_id, window)
        figures.jobs = by_key(at_level(figures.jobs, window))
        with_durations = sum(t.duration_top_bucket is not None for t in figures.jobs.values())
        if sort in SLOWEST_FIRST and end <= with_durations:
            # The slowest first: read histograms only of jobs that may be on the page.
            slow = set(top_by_duration(conn, org_id, figures, SLOWEST_FIRST[sort], end))
            tallies = {k: t for k, t in figures.jobs.items() if k in slow}
            items = ordered(job_metrics.job_rows(tallies, names), sort)[start:end]
            return Page(items, cursor_after(end, len(figures.jobs)))
        keys = keys_in_order(figures.jobs, sort, names)
        if keys is None:
            complete_jobs(conn, org_id, figures, sorted(figures.jobs))
            return page_of(job_metrics.job_rows(figures.jobs, names), sort, page)
        # Order the tallies, and build rows (and read histograms) for the page only.
        chosen = keys[start:end]
        complete_jobs(conn, org_id, figures, chosen)
        rows = job_metrics.job_rows({key: figures.jobs[key] for key in chosen}, names)
    return Page(rows, cursor_after(end, len(keys)))


def job_highlights(
    database: Database, org_id: str, window: Window, count: int, failure_class: str | None = None
) -> JobHighlights:
    """The ``count`` slowest jobs (p95), most failing jobs and flakiest jobs, ranked as
    ``rankings`` says (a minimum sample, by impact), from one computation of the
    window's job figures (the overview's three lists)."""
    with database.read() as conn:
        figures = job_figures(conn, org_id, window)
        figures.jobs = by_key(at_level(figures.jobs, window))
        timed = replace(figures, jobs=sampled(figures.jobs, window))
        slowest_keys = set(top_by_duration(conn, org_id, timed, 95, count))
    names = pipeline_names(database, org_id)
    tallies = figures.jobs
    slowest = job_metrics.job_rows({k: t for k, t in tallies.items() if k in slowest_keys}, names)
    sort = "failure_count" if failure_class is None else f"failed_{failure_class}"
    failures = job_metrics.TALLY_SORTS[sort]
    failing = {key: tally for key, tally in tallies.items() if failures(tally)}
    return JobHighlights(
        slowest=ordered(slowest, "-p95_duration_seconds")[:count],
        failing=rankings.most_failing_jobs(
            job_metrics.job_rows(failing, names), count, failure_class
        ),
        flaky=rankings.flakiest_jobs(flaky_rows(figures, names), count),
    )
