"""Timing the read API over HTTP: what to ask (every endpoint, organisation-wide and for the
busiest pipeline, over 30 and 90 days) and sequential timed requests on one keep-alive
connection."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import time as clock_time
from typing import Any
from urllib.parse import quote

import httpx

from bench.paired import ProbeFailed, alternate, nearest_rank

API = "/api/v1"
WINDOW_DAYS = (30, 90)
WARMUP_REQUESTS = 2
TARGET_MS = 200.0
_EXCERPT_CHARS = 300
_PAGE_LIMIT = 1000  # the largest page the API serves

#: The endpoints that take a window, with their own parameters besides the window's.
WINDOWED_ENDPOINTS: tuple[tuple[str, dict[str, str]], ...] = (
    ("/repositories", {}),
    ("/pipelines", {}),
    ("/runs", {}),
    ("/analytics/summary", {}),
    ("/analytics/timeseries", {"metric": "success_rate", "interval": "day"}),
    ("/analytics/timeseries", {"metric": "p95_duration_seconds", "interval": "day"}),
    ("/analytics/jobs", {}),
    ("/analytics/jobs", {"sort": "-failed_infrastructure"}),
    ("/analytics/flaky", {}),
    ("/analytics/recovery", {}),
    ("/analytics/custom-metrics", {"interval": "day"}),  # and key=<first metric key>
    ("/analytics/custom-metrics/keys", {}),
    ("/pull-requests", {}),
    ("/pull-requests", {"sort": "-ci_seconds"}),
    ("/pull-requests/summary", {}),
    ("/analytics/waits", {}),
    ("/analytics/runners", {}),
    ("/analytics/runners", {"sort": "-p95_queue_seconds"}),
    ("/analytics/runners/names", {"label_set": "ubuntu-latest"}),
    ("/analytics/runners/hours", {}),
    ("/analytics/costs", {}),
    ("/analytics/costs", {"group_by": "team"}),
    ("/analytics/costs", {"group_by": "label_set"}),
    ("/analytics/costs", {"group_by": "branch_scope"}),
    ("/analytics/teams", {}),
)
RUN_DETAIL = "/runs/{id}"
PULL_REQUEST_DETAIL = "/pull-requests/{repository_id}/{number}"
JOB_DETAIL = "/jobs/{pipeline_id}/{job}"
#: The filters by the change a run ran for (docs/api.md), each timed as a case of its own
#: on the endpoints below; their values come from a run of the busiest pipeline that has a
#: pull request.
RUN_FILTERS = ("commit", "pull_request", "author", "branch_contains", "event_kind")
#: The endpoints (and own parameters) timed under each filter of the change: the runs list
#: and the figures the raw path computes under one.
CHANGE_FILTERED: tuple[tuple[str, dict[str, str]], ...] = (
    ("/runs", {}),
    ("/analytics/summary", {}),
    ("/analytics/timeseries", {"metric": "success_rate", "interval": "day"}),
    ("/analytics/jobs", {}),
)
#: Event kinds asked for: the common one, and two rare ones together.
EVENT_KIND_FILTERS = ("pull_request", "schedule,tag")
_RUNS_SEARCHED = 200


class ReadFailed(RuntimeError):
    """A request the benchmark needs did not answer 200."""


@dataclass(frozen=True, slots=True)
class Window:
    """The API's own window of ``days`` whole UTC days ending with today (``days=N``), the
    one the dashboard asks for; ``since``/``until`` are what it covers."""

    days: int
    since: datetime
    until: datetime

    @property
    def label(self) -> str:
        return f"{self.days}d"

    @property
    def params(self) -> dict[str, str]:
        return {"days": str(self.days)}


def windows(now: datetime) -> list[Window]:
    tomorrow = datetime.combine(now.date() + timedelta(days=1), clock_time(), now.tzinfo)
    return [Window(days, tomorrow - timedelta(days=days), tomorrow) for days in WINDOW_DAYS]


@dataclass(frozen=True, slots=True)
class Subjects:
    """What the parametrised cases ask about, found through the API itself."""

    pipeline_id: str
    pipeline_name: str
    pipeline_runs: int  # in the 30-day window
    run_ids: dict[str, str]  # scope → a run id from that scope's /runs
    metric_key: str | None  # None when no run reports custom metrics
    #: ``/runs`` filters, one per case (only event kinds when no run names its change).
    run_filters: tuple[dict[str, str], ...] = ()
    #: ``/pull-requests/{repository_id}/{number}`` of the window's latest pull request.
    pull_request: str | None = None
    #: ``/jobs/{pipeline_id}/{job}`` of the busiest pipeline's most run job.
    job: str | None = None

    def describe(self) -> str:
        metric = self.metric_key or "none (custom-metrics not measured)"
        return (
            f"pipeline {self.pipeline_name!r} ({self.pipeline_id}, {self.pipeline_runs:,} runs "
            f"in 30 days), custom metric {metric}"
        )


@dataclass(frozen=True, slots=True)
class Case:
    path: str  # under /api/v1
    params: dict[str, str]  # without the window's and the scope's
    scope: str  # "org" or "pipeline"
    window: Window | None  # None for an endpoint without a window

    @property
    def endpoint(self) -> str:
        """The label in the report: the path, and the parameters that tell cases apart."""
        label = API + _detail_label(self.path)
        shown = {
            name: value
            for name, value in self.params.items()
            if name in ("metric", "sort") or name in RUN_FILTERS
        }
        if shown:
            label += "?" + "&".join(f"{name}={value}" for name, value in shown.items())
        return label

    @property
    def window_label(self) -> str:
        return self.window.label if self.window else "-"


def _detail_label(path: str) -> str:
    """The path of a case, its ids named (``/runs/{id}``) rather than given."""
    if path.startswith("/runs/"):
        return RUN_DETAIL
    if path.startswith("/pull-requests/") and path != "/pull-requests/summary":
        return PULL_REQUEST_DETAIL
    if path.startswith("/jobs/"):
        return JOB_DETAIL
    return path


@dataclass(frozen=True, slots=True)
class Timing:
    case: Case
    milliseconds: tuple[float, ...] = ()
    failure: str | None = None  # the status and an excerpt of the body of a failed request

    @property
    def p50_ms(self) -> float | None:
        return nearest_rank(self.milliseconds, 50)

    @property
    def p95_ms(self) -> float | None:
        return nearest_rank(self.milliseconds, 95)

    @property
    def slow(self) -> bool:
        p95 = self.p95_ms
        return p95 is not None and p95 > TARGET_MS

    def describe(self) -> str:
        name = f"{self.case.endpoint} ({self.case.scope}, {self.case.window_label})"
        if self.failure is not None:
            return f"{name}: FAILED: {self.failure}"
        flag = f"  over {TARGET_MS:.0f} ms" if self.slow else ""
        return f"{name}: p50 {self.p50_ms:.1f} ms, p95 {self.p95_ms:.1f} ms{flag}"


def discover(client: httpx.Client, spans: list[Window]) -> Subjects:
    """The pipeline with the most runs in the first window, a run of the organisation and
    one of that pipeline, and the first custom metric key of the widest window."""
    first, widest = spans[0], spans[-1]
    pipelines = get_all_items(client, "/pipelines", first.params)
    if not pipelines:
        raise ReadFailed(f"/pipelines lists no pipeline with runs in the last {first.days} days")
    busiest = max(pipelines, key=lambda item: int(item["runs"]))
    run_ids = {
        scope: _first_run(client, {**first.params, **scope_params})
        for scope, scope_params in (("org", {}), ("pipeline", {"pipeline": busiest["id"]}))
    }
    # The run answer's triage at its busiest: a failed run on the default branch.
    failed = {**first.params, "pipeline": busiest["id"], "status": "failure", "branches": "default"}
    red = get_json(client, "/runs", {**failed, "limit": "1"})["items"]
    if red:
        run_ids["failed on default branch"] = str(red[0]["id"])
    metrics = get_json(client, "/analytics/custom-metrics/keys", widest.params)["metrics"]
    return Subjects(
        pipeline_id=str(busiest["id"]),
        pipeline_name=str(busiest["name"]),
        pipeline_runs=int(busiest["runs"]),
        run_ids=run_ids,
        metric_key=str(metrics[0]) if metrics else None,
        run_filters=_run_filters(client, {**first.params, "pipeline": str(busiest["id"])}),
        pull_request=_latest_pull_request(client, first.params),
        job=_most_run_job(client, {**first.params, "pipeline": str(busiest["id"])}),
    )


def _most_run_job(client: httpx.Client, params: dict[str, str]) -> str | None:
    """The path of the job of ``params``' pipeline with the most runs (None: no job)."""
    items = get_json(client, "/analytics/jobs", {**params, "sort": "-runs", "limit": "1"})["items"]
    if not items:
        return None
    return f"/jobs/{params['pipeline']}/{quote(str(items[0]['definition_key']), safe='')}"


def _latest_pull_request(client: httpx.Client, params: dict[str, str]) -> str | None:
    """The path of the window's pull request with the latest run (None: there is none)."""
    items = get_json(client, "/pull-requests", {**params, "limit": "1"})["items"]
    return f"/pull-requests/{items[0]['id']}" if items else None


def _run_filters(client: httpx.Client, params: dict[str, str]) -> tuple[dict[str, str], ...]:
    """A value for each ``/runs`` filter, from the newest run (of ``params``) that has a pull
    request: its commit's first 7 digits, its pull request, its author's last name, a word
    of its branch; and the event kinds."""
    kinds = tuple({"event_kind": kinds} for kinds in EVENT_KIND_FILTERS)
    items = get_json(client, "/runs", {**params, "limit": str(_RUNS_SEARCHED)})["items"]
    run = next((r for r in items if r.get("pull_request_number") and r.get("commit_author")), None)
    if run is None:
        return kinds
    word = max(str(run["branch"]).replace("/", "-").split("-"), key=len)
    return (
        {"commit": str(run["commit_sha"])[:7]},
        {"pull_request": str(run["pull_request_number"])},
        {"author": str(run["commit_author"]).split()[-1].lower()},
        {"branch_contains": word},
        *kinds,
    )


def cases(subjects: Subjects, spans: list[Window]) -> list[Case]:
    """Every endpoint for each scope and window, grouped by endpoint; one run's detail per
    scope (it takes no window)."""
    found: list[Case] = []
    scopes = {"org": {}, "pipeline": {"pipeline": subjects.pipeline_id}}
    for path, own_params in WINDOWED_ENDPOINTS:
        params = dict(own_params)
        if path == "/analytics/custom-metrics":
            if subjects.metric_key is None:
                continue
            params["key"] = subjects.metric_key
        for scope, scope_params in scopes.items():
            found += [Case(path, {**params, **scope_params}, scope, span) for span in spans]
        if (path, own_params) in CHANGE_FILTERED:
            found += [
                Case(path, {**params, **run_filter, **scope_params}, scope, span)
                for run_filter in subjects.run_filters
                for scope, scope_params in scopes.items()
                for span in spans
            ]
        if path == "/runs":
            found += [
                Case(f"/runs/{run_id}", {}, scope, None)
                for scope, run_id in subjects.run_ids.items()
            ]
    if subjects.pull_request is not None:
        found.append(Case(subjects.pull_request, {}, "org", None))
    if subjects.job is not None:
        found += [Case(subjects.job, {}, "pipeline", span) for span in spans]
    return found


def measure(client: httpx.Client, case: Case, repeat: int) -> Timing:
    """Warm-up requests, then ``repeat`` timed ones (sending the request until the whole
    body is read); stops at the first answer other than 200."""
    (outcome,) = alternate([probe(client, case)], WARMUP_REQUESTS, repeat)
    return Timing(case, outcome.values, outcome.failure)


def measure_pair(
    baseline: httpx.Client, current: httpx.Client, case: Case, repeat: int
) -> tuple[Timing, Timing]:
    """``measure`` on two servers at once, alternating request by request."""
    probes = [probe(baseline, case), probe(current, case)]
    theirs, ours = alternate(probes, WARMUP_REQUESTS, repeat)
    return Timing(case, theirs.values, theirs.failure), Timing(case, ours.values, ours.failure)


def probe(client: httpx.Client, case: Case) -> Callable[[], float]:
    """One timed request of ``case`` (milliseconds); ProbeFailed unless it answers 200."""
    params = {**case.params, **(case.window.params if case.window else {})}
    url = API + case.path

    def once() -> float:
        started = time.perf_counter()
        try:
            response = client.get(url, params=params)
        except httpx.HTTPError as exc:
            raise ProbeFailed(f"{type(exc).__name__}: {exc}") from exc
        elapsed_ms = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise ProbeFailed(_failure(response))
        return elapsed_ms

    return once


def get_all_items(
    client: httpx.Client, path: str, params: Mapping[str, str]
) -> list[dict[str, Any]]:
    """Every item of a list endpoint, following ``next_cursor`` when the endpoint pages."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page_params = {**params, "limit": str(_PAGE_LIMIT)}
        if cursor:
            page_params["cursor"] = cursor
        page = get_json(client, path, page_params)
        items += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            return items


def get_json(client: httpx.Client, path: str, params: Mapping[str, str]) -> Any:
    response = client.get(API + path, params=dict(params))
    if response.status_code != 200:
        raise ReadFailed(f"GET {API}{path}: {_failure(response)}")
    return response.json()


@dataclass(slots=True)
class Progress:
    """Prints each timing as it is measured, so a long run shows where it is."""

    total: int
    done: int = field(default=0)

    def show(self, timing: Timing, baseline: Timing | None = None) -> None:
        self.done += 1
        line = f"  [{self.done:>3}/{self.total}] {timing.describe()}"
        if baseline is not None:
            line += f" | baseline: {baseline.describe().split(': ', 1)[1]}"
        print(line, flush=True)


def _first_run(client: httpx.Client, params: dict[str, str]) -> str:
    items = get_json(client, "/runs", {**params, "limit": "1"})["items"]
    if not items:
        raise ReadFailed(f"/runs lists no run for {params}")
    return str(items[0]["id"])


def _failure(response: httpx.Response) -> str:
    body = " ".join(response.text.split())
    excerpt = body if len(body) <= _EXCERPT_CHARS else body[:_EXCERPT_CHARS] + "…"
    return f"HTTP {response.status_code}: {excerpt or '(empty body)'}"
