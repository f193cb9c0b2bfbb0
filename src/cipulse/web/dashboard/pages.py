"""Dashboard pages: overview, pipelines, a pipeline, runs, a run, metrics.

The dashboard's pages: thin handlers that read the view (time range, filters) from the
URL, ask the analytics service the same questions the read API answers, and render."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from cipulse.analytics.buckets import Interval
from cipulse.analytics.paging import PageRequest
from cipulse.analytics.pipeline_search import PipelineSearch
from cipulse.analytics.questions.jobs import JobHighlights
from cipulse.analytics.questions.lists import PipelineHighlights
from cipulse.analytics.rankings import MIN_SAMPLE
from cipulse.analytics.service import JOB_SORTS
from cipulse.analytics.window import CHANGE_FILTERS, failure_class_from
from cipulse.domain.changes import EventKind
from cipulse.domain.tallies import FAILURE_CLASSES
from cipulse.errors import InvalidRequest, NotFound
from cipulse.ingestion.runwatch.example import example_curl
from cipulse.web.auth import SignedIn
from cipulse.web.dashboard import charts
from cipulse.web.dashboard.kpis import cost_cards, kpi_cards, wait_cards
from cipulse.web.dashboard.page_parts import (
    JOB_COLUMNS,
    JOB_DURATIONS,
    JOBS_PER_PAGE,
    PIPELINE_COLUMNS,
    PIPELINE_DURATIONS,
    PIPELINES_PER_PAGE,
    RED_NOW_SHOWN,
    RUNS_PER_PAGE,
    TOP,
    call,
    cursor_param,
    level_param,
    page_number,
    render_page,
    runs_elsewhere,
    service_of,
    sort_param,
)
from cipulse.web.dashboard.rendering import column_units, public_base_url
from cipulse.web.dashboard.routing import page_router, redirect
from cipulse.web.dashboard.view import view_of
from cipulse.web.list_presenters import (
    job_highlights_json,
    job_row_json,
    pipeline_highlights_json,
    pipeline_row_json,
)
from cipulse.web.presenters import (
    attempt_json,
    custom_metric_json,
    latest_attempt_json,
    recovery_json,
    run_json,
    series_bucket_json,
    summary_json,
)
from cipulse.web.window_cost_presenters import window_costs_json

routes = page_router()


@routes.get("/")
async def overview(request: Request, session: SignedIn) -> Response:
    view = view_of(request)
    service = service_of(request)
    org = session.org_id
    # The red list looks at default branches unless the view chose its branches.
    red_scope = view.branches or "default"
    failure_class = failure_class_from(request.query_params)
    # Seven questions at once: gather's typing stops at six, so the costs run as a task.
    costs = asyncio.ensure_future(call(service.costs, org, view.window))
    summarised, buckets, recovered, top_pipelines, top_jobs, waited = await asyncio.gather(
        call(service.summary, org, view.window),
        call(service.run_series, org, view.window, view.interval),
        call(service.recovery, org, view.narrowed(branch_scope=red_scope), RED_NOW_SHOWN),
        call(service.pipeline_highlights, org, view.window, TOP, failure_class),
        call(service.job_highlights, org, view.window, TOP, failure_class),
        call(service.waits, org, view.window),
    )
    priced = await costs
    summary, red = summary_json(summarised), recovery_json(recovered)
    elsewhere = None
    if summarised.figures.run.runs == 0:
        span = await call(service.run_span, org)
        if span is None:
            curl = example_curl(public_base_url(request))
            return await render_page(
                request, "empty.html", session, view, title="Overview", curl=curl
            )
        elsewhere = runs_elsewhere(view, span, "This organisation's runs")
    return await render_page(
        request,
        "overview.html",
        session,
        view,
        title="Overview",
        elsewhere=elsewhere,
        kpis=kpi_cards(summary),
        wait_kpis=wait_cards(waited),
        cost_kpis=cost_cards(window_costs_json(priced)),
        currency=priced.currency,
        summary=summary,
        charts=charts.overview_charts([series_bucket_json(b) for b in buckets]),
        red=red,
        red_scope=red_scope,
        **_top_lists(top_pipelines, top_jobs),
        min_sample=MIN_SAMPLE,
        failure_class=failure_class,
        failure_classes=FAILURE_CLASSES,
    )


def _top_lists(pipelines: PipelineHighlights, jobs: JobHighlights) -> dict[str, Any]:
    """The overview's top lists, as its template names them."""
    shown, ranked = pipeline_highlights_json(pipelines), job_highlights_json(jobs)
    return {
        **{f"{name}_pipelines": shown[name] for name in ("slowest", "failing", "flaky", "too_few")},
        **{f"{name}_jobs": ranked[name] for name in ("slowest", "failing", "flaky")},
    }


@routes.get("/red-since")
async def red_since(
    request: Request, session: SignedIn, pipeline: str, at: str, branch: str | None = None
) -> Response:
    attempt_id = await call(
        service_of(request).attempt_that_turned_red, session.org_id, pipeline, branch, at
    )
    if attempt_id is None:
        raise NotFound("run: the attempt that turned this branch red is no longer stored")
    return redirect(request, f"/runs/{attempt_id}")


@routes.get("/pipelines")
async def pipelines(request: Request, session: SignedIn) -> Response:
    view = view_of(request)
    sort = sort_param(request, tuple(c for c, _ in PIPELINE_COLUMNS), "-runs")
    search = (request.query_params.get("q") or "").strip()
    provider = request.query_params.get("provider") or ""
    number = page_number(request)
    service = service_of(request)
    providers = await call(service.latest_providers, session.org_id)
    found, total = await call(
        service.pipelines_shown,
        session.org_id,
        view.window,
        sort,
        PipelineSearch(text=search, latest_provider=provider),
        (number - 1) * PIPELINES_PER_PAGE,
        number * PIPELINES_PER_PAGE,
    )
    pages = max(1, -(-total // PIPELINES_PER_PAGE))
    latest_runs = await call(
        service.latest_runs, session.org_id, [r.id for r in found], view.window
    )
    latest = {
        pipeline_id: [latest_attempt_json(attempt) for attempt in attempts]
        for pipeline_id, attempts in latest_runs.items()
    }
    shown = [pipeline_row_json(row) for row in found]
    return await render_page(
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
    service = service_of(request)
    info = await call(service.pipeline, session.org_id, pipeline_id)
    level = level_param(request)
    window = view.narrowed(pipeline_id=info.id)
    sort = sort_param(request, JOB_SORTS, "-total_duration_seconds")
    jobs_page = PageRequest(limit=JOBS_PER_PAGE, sort=sort, cursor=cursor_param(request))
    summarised, buckets, found_jobs, runs = await asyncio.gather(
        call(service.summary, session.org_id, window),
        call(service.run_series, session.org_id, window, view.interval),
        call(
            service.jobs,
            session.org_id,
            replace(window, filters=replace(window.filters, job_level=level)),
            jobs_page,
        ),
        call(service.runs, session.org_id, window, 25, None),
    )
    summary = summary_json(summarised)
    jobs = [job_row_json(row) for row in found_jobs.items]
    elsewhere = None
    if summarised.figures.run.runs == 0:
        span = await call(service.run_span, session.org_id, info.id)
        elsewhere = runs_elsewhere(view, span, "Its runs")
    return await render_page(
        request,
        "pipeline.html",
        session,
        view,
        title=info.name,
        pipeline=info,
        elsewhere=elsewhere,
        kpis=kpi_cards(summary),
        summary=summary,
        charts=charts.pipeline_charts([series_bucket_json(b) for b in buckets]),
        jobs=jobs,
        next_cursor=found_jobs.next_cursor,
        units=column_units(jobs, JOB_DURATIONS),
        runs=[attempt_json(attempt) for attempt in runs.items],
        sort=sort,
        columns=JOB_COLUMNS,
        level=level,
        csv=view.api("analytics/jobs", pipeline=info.id, sort=sort, level=level, format="csv"),
        runs_csv=view.api("runs", pipeline=info.id, format="csv"),
    )


@routes.get("/runs")
async def runs(request: Request, session: SignedIn) -> Response:
    """Every run attempt of the window, newest first, filtered by the change it ran for."""
    view = view_of(request)
    window = view.window
    found = await call(
        service_of(request).runs, session.org_id, window, RUNS_PER_PAGE, cursor_param(request)
    )
    return await render_page(
        request,
        "runs.html",
        session,
        view,
        title="Runs",
        runs=[attempt_json(attempt) for attempt in found.items],
        next_cursor=found.next_cursor,
        change_filters=CHANGE_FILTERS,
        event_kinds=[kind.value for kind in EventKind],
        filtered=window.filters.names_a_change,
        csv=view.api("runs", format="csv"),
    )


@routes.get("/runs/{attempt_id}")
async def run(request: Request, session: SignedIn, attempt_id: str) -> Response:
    view = view_of(request)
    detail = run_json(await call(service_of(request).run, session.org_id, attempt_id))
    return await render_page(
        request,
        "run.html",
        session,
        view,
        title=f"{detail['pipeline']} #{detail['run_number'] or detail['run_key']}",
        run=detail,
        waterfall=charts.waterfall(detail),
    )


@routes.get("/metrics")
async def metrics(request: Request, session: SignedIn) -> Response:
    view = view_of(request)
    service = service_of(request)
    keys = await call(service.custom_metric_keys, session.org_id, view.window)
    key = request.query_params.get("key") or (keys["metrics"][0] if keys["metrics"] else "")
    aggregation = request.query_params.get("aggregation") or "mean"
    if aggregation not in charts.AGGREGATIONS:
        raise InvalidRequest("aggregation: must be one of " + ", ".join(charts.AGGREGATIONS))
    group = request.query_params.get("group") or ""
    interval = Interval.HOUR if view.interval is Interval.HOUR else view.interval
    result = None
    if key:
        found = await call(
            service.custom_metric,
            session.org_id,
            view.window,
            key,
            f"tag:{group}" if group else None,
            interval,
        )
        result = custom_metric_json(found)
    return await render_page(
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


def router() -> APIRouter:
    return routes
