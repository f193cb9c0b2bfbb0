"""The dashboard's pages: overview, pipelines, runs, jobs, flaky, …

The dashboard's pages: thin handlers that read the view (time range, filters) from the
URL, ask the analytics service the same questions the read API answers, and render."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from starlette.responses import Response

from cipulse.accounts.users import Session
from cipulse.analytics.buckets import Interval
from cipulse.analytics.flaky_totals import flaky_totals
from cipulse.analytics.paging import PageRequest, page_of, page_range
from cipulse.analytics.pipeline_search import PipelineSearch
from cipulse.analytics.rankings import MIN_SAMPLE
from cipulse.analytics.service import JOB_SORTS, AnalyticsService, RunSpan
from cipulse.domain.compute import LEVELS
from cipulse.errors import InvalidRequest, NotFound
from cipulse.ingestion.runwatch.example import example_curl
from cipulse.web.auth import SignedIn
from cipulse.web.dashboard import charts
from cipulse.web.dashboard.kpis import kpi_cards
from cipulse.web.dashboard.rendering import column_units, public_base_url, render
from cipulse.web.dashboard.routing import page_router, redirect
from cipulse.web.dashboard.view import BRANCH_SCOPES, RANGES, View, view_of
from cipulse.web.deadlines import run_in_database_thread

T = TypeVar("T")
TOP = 5
PIPELINES_PER_PAGE = 50
JOBS_PER_PAGE = 100
FLAKY_PER_PAGE = 100
RED_NOW_SHOWN = 8
PIPELINE_COLUMNS = (
    ("name", "Pipeline"),
    ("runs", "Runs"),
    ("success_rate", "Success"),
    ("p50_duration_seconds", "p50"),
    ("p95_duration_seconds", "p95"),
    ("compute_seconds", "Compute"),
    ("flaky_rate", "Flaky-run share"),
)
JOB_COLUMNS = (
    ("job", "Job"),
    ("runs", "Runs"),
    ("success_rate", "Success"),
    ("failure_count", "Failures"),
    ("flaky_count", "Flaky runs"),
    ("p50_duration_seconds", "p50"),
    ("p95_duration_seconds", "p95"),
    ("exclusive_seconds", "Exclusive"),
    ("total_duration_seconds", "Total time"),
)
#: The columns of durations: each shown in one unit, named in its header.
PIPELINE_DURATIONS = ("p50_duration_seconds", "p95_duration_seconds")
JOB_DURATIONS = (
    "p50_duration_seconds",
    "p95_duration_seconds",
    "exclusive_seconds",
    "total_duration_seconds",
)


async def _call(function: Callable[..., T], *args: Any) -> T:
    return await run_in_database_thread(function, *args)


def _service(request: Request) -> AnalyticsService:
    return AnalyticsService(request.app.state.database)


async def _page(
    request: Request, template: str, session: Session, view: View, **context: Any
) -> Response:
    repositories = await _call(_service(request).repository_names, session.org_id)
    return render(
        request,
        template,
        {
            "session": session,
            "view": view,
            "ranges": RANGES,
            "branch_scopes": BRANCH_SCOPES,
            "repositories": repositories,
            **context,
        },
    )


def _elsewhere(view: View, span: RunSpan | None, what: str) -> dict[str, Any] | None:
    """When a window shows no runs but some are stored: when they started, and a link to
    that period (unless it overlaps the window, and only filters hide them)."""
    if span is None:
        return None
    first, last = span.first_day.isoformat(), span.last_day.isoformat()
    overlaps = span.last_ms >= view.window.since_ms and span.first_ms < view.window.until_ms
    return {
        "what": what,
        "first": first,
        "last": last,
        "url": None if overlaps else view.url(range=None, since=first, until=last),
        "filtered": bool(view.repository or view.branches),
        "clear_url": view.url(repository=None, branches=None),
    }


def _sort(request: Request, allowed: tuple[str, ...], default: str) -> str:
    sort = request.query_params.get("sort") or default
    if sort.removeprefix("-") not in allowed:
        raise InvalidRequest("sort: must be one of " + ", ".join(allowed) + " (- for descending)")
    return sort


def _cursor(request: Request) -> str | None:
    return request.query_params.get("cursor") or None


def _level(request: Request) -> str:
    """The level of the jobs listed (``domain.compute.LEVELS`` or all; default: job)."""
    level = request.query_params.get("level") or "job"
    if level not in (*LEVELS, "all"):
        raise InvalidRequest("level: must be job, stage, step or all")
    return level


def _page_number(request: Request) -> int:
    text = request.query_params.get("page") or "1"
    if not text.isdigit() or int(text) < 1:
        raise InvalidRequest("page: must be a whole number from 1")
    return int(text)


def router() -> APIRouter:
    routes = page_router()

    @routes.get("/")
    async def overview(request: Request, session: SignedIn) -> Response:
        view = view_of(request)
        service = _service(request)
        org = session.org_id
        # The red list looks at default branches unless the view chose its branches.
        red_scope = view.branches or "default"
        summary, series, red, pipelines, jobs = await asyncio.gather(
            _call(service.summary, org, view.window),
            _call(service.run_series, org, view.window, view.interval),
            _call(service.recovery, org, view.narrowed(branch_scope=red_scope), RED_NOW_SHOWN),
            _call(service.pipeline_highlights, org, view.window, TOP),
            _call(service.job_highlights, org, view.window, TOP),
        )
        elsewhere = None
        if summary["runs"] == 0:
            span = await _call(service.run_span, org)
            if span is None:
                curl = example_curl(public_base_url(request))
                return await _page(
                    request, "empty.html", session, view, title="Overview", curl=curl
                )
            elsewhere = _elsewhere(view, span, "This organisation's runs")
        return await _page(
            request,
            "overview.html",
            session,
            view,
            title="Overview",
            elsewhere=elsewhere,
            kpis=kpi_cards(summary),
            summary=summary,
            charts=charts.overview_charts(series),
            red=red,
            red_scope=red_scope,
            slowest_pipelines=pipelines["slowest"],
            failing_pipelines=pipelines["failing"],
            flaky_pipelines=pipelines["flaky"],
            too_few_pipelines=pipelines["too_few"],
            slowest_jobs=jobs["slowest"],
            failing_jobs=jobs["failing"],
            flaky_jobs=jobs["flaky"],
            min_sample=MIN_SAMPLE,
        )

    @routes.get("/red-since")
    async def red_since(
        request: Request, session: SignedIn, pipeline: str, at: str, branch: str | None = None
    ) -> Response:
        attempt_id = await _call(
            _service(request).attempt_that_turned_red, session.org_id, pipeline, branch, at
        )
        if attempt_id is None:
            raise NotFound("run: the attempt that turned this branch red is no longer stored")
        return redirect(request, f"/runs/{attempt_id}")

    @routes.get("/pipelines")
    async def pipelines(request: Request, session: SignedIn) -> Response:
        view = view_of(request)
        sort = _sort(request, tuple(c for c, _ in PIPELINE_COLUMNS), "-runs")
        search = (request.query_params.get("q") or "").strip()
        provider = request.query_params.get("provider") or ""
        number = _page_number(request)
        service = _service(request)
        providers = await _call(service.latest_providers, session.org_id)
        shown, total = await _call(
            service.pipelines_shown,
            session.org_id,
            view.window,
            sort,
            PipelineSearch(text=search, latest_provider=provider),
            (number - 1) * PIPELINES_PER_PAGE,
            number * PIPELINES_PER_PAGE,
        )
        pages = max(1, -(-total // PIPELINES_PER_PAGE))
        latest = await _call(
            service.latest_runs, session.org_id, [r["id"] for r in shown], view.window
        )
        return await _page(
            request,
            "pipelines.html",
            session,
            view,
            title="Pipelines",
            rows=shown,
            units={**column_units(shown, PIPELINE_DURATIONS), "compute_seconds": "h"},
            total=total,
            page_number=number,
            pages=pages,
            latest=latest,
            sort=sort,
            columns=PIPELINE_COLUMNS,
            search=search,
            provider=provider,
            providers=sorted(set(providers.values()) | ({provider} if provider else set())),
            csv=view.api("pipelines", sort=sort, q=search, latest_provider=provider, format="csv"),
        )

    @routes.get("/pipelines/{pipeline_id}")
    async def pipeline(request: Request, session: SignedIn, pipeline_id: str) -> Response:
        view = view_of(request)
        service = _service(request)
        info = await _call(service.pipeline, session.org_id, pipeline_id)
        level = _level(request)
        window = view.narrowed(pipeline_id=info["id"])
        sort = _sort(request, JOB_SORTS, "-total_duration_seconds")
        jobs_page = PageRequest(limit=JOBS_PER_PAGE, sort=sort, cursor=_cursor(request))
        summary, series, jobs, runs = await asyncio.gather(
            _call(service.summary, session.org_id, window),
            _call(service.run_series, session.org_id, window, view.interval),
            _call(
                service.jobs,
                session.org_id,
                replace(window, filters=replace(window.filters, job_level=level)),
                jobs_page,
            ),
            _call(service.runs, session.org_id, window, 25, None),
        )
        elsewhere = None
        if summary["runs"] == 0:
            span = await _call(service.run_span, session.org_id, info["id"])
            elsewhere = _elsewhere(view, span, "Its runs")
        return await _page(
            request,
            "pipeline.html",
            session,
            view,
            title=info["name"],
            pipeline=info,
            elsewhere=elsewhere,
            kpis=kpi_cards(summary),
            summary=summary,
            charts=charts.pipeline_charts(series),
            jobs=jobs[0],
            next_cursor=jobs[1],
            units=column_units(jobs[0], JOB_DURATIONS),
            runs=runs[0],
            sort=sort,
            columns=JOB_COLUMNS,
            level=level,
            csv=view.api(
                "analytics/jobs", pipeline=info["id"], sort=sort, level=level, format="csv"
            ),
            runs_csv=view.api("runs", pipeline=info["id"], format="csv"),
        )

    @routes.get("/runs/{attempt_id}")
    async def run(request: Request, session: SignedIn, attempt_id: str) -> Response:
        view = view_of(request)
        detail = await _call(_service(request).run, session.org_id, attempt_id)
        return await _page(
            request,
            "run.html",
            session,
            view,
            title=f"{detail['pipeline']} #{detail['run_number'] or detail['run_key']}",
            run=detail,
            waterfall=charts.waterfall(detail),
        )

    @routes.get("/jobs")
    async def jobs(request: Request, session: SignedIn) -> Response:
        view = view_of(request)
        sort = _sort(request, JOB_SORTS, "-total_duration_seconds")
        level = _level(request)
        rows, next_cursor = await _call(
            _service(request).jobs,
            session.org_id,
            view.narrowed(job_level=level),
            PageRequest(limit=JOBS_PER_PAGE, sort=sort, cursor=_cursor(request)),
        )
        return await _page(
            request,
            "jobs.html",
            session,
            view,
            title="Jobs",
            rows=rows,
            units=column_units(rows, JOB_DURATIONS),
            sort=sort,
            columns=(("pipeline", "Pipeline"), *JOB_COLUMNS),
            next_cursor=next_cursor,
            level=level,
            csv=view.api("analytics/jobs", sort=sort, level=level, format="csv"),
        )

    @routes.get("/flaky")
    async def flaky(request: Request, session: SignedIn) -> Response:
        view = view_of(request)
        level = _level(request)
        window = view.narrowed(job_level=level)
        every = await _call(_service(request).all_flaky, session.org_id, window, None)
        page = PageRequest(limit=FLAKY_PER_PAGE, cursor=_cursor(request))
        rows, next_cursor = page_of(every, None, page)
        return await _page(
            request,
            "flaky.html",
            session,
            view,
            title="Flaky jobs",
            rows=rows,
            first_rank=page_range(page)[0] + 1,
            next_cursor=next_cursor,
            totals=flaky_totals(every),
            units=column_units(rows, ("retry_compute_seconds",)),
            level=level,
            csv=view.api("analytics/flaky", level=level, format="csv"),
        )

    @routes.get("/metrics")
    async def metrics(request: Request, session: SignedIn) -> Response:
        view = view_of(request)
        service = _service(request)
        keys = await _call(service.custom_metric_keys, session.org_id, view.window)
        key = request.query_params.get("key") or (keys["metrics"][0] if keys["metrics"] else "")
        aggregation = request.query_params.get("aggregation") or "mean"
        if aggregation not in charts.AGGREGATIONS:
            raise InvalidRequest("aggregation: must be one of " + ", ".join(charts.AGGREGATIONS))
        group = request.query_params.get("group") or ""
        interval = Interval.HOUR if view.interval is Interval.HOUR else view.interval
        result = None
        if key:
            result = await _call(
                service.custom_metric,
                session.org_id,
                view.window,
                key,
                f"tag:{group}" if group else None,
                interval,
            )
        return await _page(
            request,
            "metrics.html",
            session,
            view,
            title="Metrics explorer",
            keys=keys,
            key=key,
            aggregation=aggregation,
            aggregations=charts.AGGREGATIONS,
            group=group,
            result=result,
            chart=charts.metric_chart(result, aggregation) if result else None,
            table=charts.metric_table(result, aggregation) if result else None,
            csv=view.api(
                "analytics/custom-metrics",
                key=key,
                group_by=f"tag:{group}" if group else None,
                interval=interval.value,
                format="csv",
            )
            if key
            else None,
        )

    return routes
