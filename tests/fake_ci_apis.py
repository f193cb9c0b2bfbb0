"""A fake of the few GitHub and GitLab REST API endpoints the reporters read, and of a cipulse
ingest endpoint that answers what a test scripts (503, 429, 400…), served by uvicorn on a
loopback port in a thread of the test process.

GitHub answers are the real examples of GitHub's REST API description
(``tests/fixtures/real/github-rest.*.json``), changed only where a builder says so. There
are no GitLab REST fixtures: its answers follow the shapes GitLab documents for
``GET /projects/:id/pipelines/:pipeline_id`` and ``…/jobs`` (docs.gitlab.com/api/pipelines,
docs.gitlab.com/api/jobs). Lists are served a page at a time as each API does: GitHub with
``Link: <…>; rel="next"``, GitLab with ``X-Next-Page`` (GitLab also sends ``Link``; this fake
leaves it out, so that the reporter's other way of paging is the one tested here)."""

from __future__ import annotations

import asyncio
import copy
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.builders import real_fixture
from tests.servers import free_port

GITHUB_TOKEN = "ghs_fakeGitHubToken0123456789"
GITLAB_TOKEN = "glpat-fakeGitLabToken0123"
GITLAB_JOB_TOKEN = "glcbt-fakeJobToken0123"


@dataclass
class Answer:
    """One scripted answer of the fake ingest endpoint."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_seconds: float = 0.0


@dataclass
class Post:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeCI:
    url: str = ""
    #: (owner/name, run id, attempt) → the run attempt, and its jobs.
    github_runs: dict[tuple[str, int, int], dict[str, Any]] = field(default_factory=dict)
    github_jobs: dict[tuple[str, int, int], list[dict[str, Any]]] = field(default_factory=dict)
    #: (project id, pipeline id) → the pipeline, and every job of it (retried ones too).
    gitlab_pipelines: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    gitlab_jobs: dict[tuple[str, int], list[dict[str, Any]]] = field(default_factory=dict)
    #: What the ingest endpoint answers, one per post; 200 once they are used up.
    ingest_answers: list[Answer] = field(default_factory=list)
    ingest_posts: list[Post] = field(default_factory=list)
    #: Every GET of the CI APIs: path and query.
    api_requests: list[str] = field(default_factory=list)

    @property
    def github_api(self) -> str:
        return self.url

    @property
    def gitlab_api(self) -> str:
        return f"{self.url}/api/v4"


# --- GitHub -----------------------------------------------------------------------------------


def _github_authorised(request: Request) -> bool:
    return request.headers.get("Authorization") == f"Bearer {GITHUB_TOKEN}"


def _page_of(request: Request, items: list[Any], default_size: int) -> tuple[list[Any], int, int]:
    size = min(100, int(request.query_params.get("per_page", default_size)))
    page = int(request.query_params.get("page", 1))
    pages = max(1, -(-len(items) // size))
    return items[(page - 1) * size : page * size], page, pages


def _github_app_routes(state: FakeCI) -> list[Route]:
    def unauthorised() -> JSONResponse:
        return JSONResponse({"message": "Bad credentials"}, status_code=401)

    def not_found() -> JSONResponse:
        return JSONResponse({"message": "Not Found"}, status_code=404)

    async def run(request: Request) -> Response:
        state.api_requests.append(str(request.url.path) + "?" + str(request.url.query))
        if not _github_authorised(request):
            return unauthorised()
        repository = f"{request.path_params['owner']}/{request.path_params['repo']}"
        run_id = request.path_params["run_id"]
        attempts = [k[2] for k in state.github_runs if k[:2] == (repository, run_id)]
        attempt = request.path_params.get("attempt", max(attempts, default=0))
        found = state.github_runs.get((repository, run_id, attempt))
        return JSONResponse(found) if found else not_found()

    async def jobs(request: Request) -> Response:
        state.api_requests.append(str(request.url.path) + "?" + str(request.url.query))
        if not _github_authorised(request):
            return unauthorised()
        key = (
            f"{request.path_params['owner']}/{request.path_params['repo']}",
            request.path_params["run_id"],
            request.path_params["attempt"],
        )
        if key not in state.github_jobs:
            return not_found()
        every = state.github_jobs[key]
        page_items, page, pages = _page_of(request, every, 30)
        headers = {}
        links = []
        if page < pages:
            links.append(f'<{request.url.include_query_params(page=page + 1)}>; rel="next"')
        links.append(f'<{request.url.include_query_params(page=pages)}>; rel="last"')
        headers["Link"] = ", ".join(links)
        return JSONResponse({"total_count": len(every), "jobs": page_items}, headers=headers)

    runs = "/repos/{owner}/{repo}/actions/runs/{run_id:int}"
    return [
        Route(runs, run),
        Route(runs + "/attempts/{attempt:int}", run),
        Route(runs + "/attempts/{attempt:int}/jobs", jobs),
    ]


# --- GitLab -----------------------------------------------------------------------------------


def _gitlab_routes(state: FakeCI) -> list[Route]:
    def authorised(request: Request) -> bool:
        return (
            request.headers.get("PRIVATE-TOKEN") == GITLAB_TOKEN
            or request.headers.get("JOB-TOKEN") == GITLAB_JOB_TOKEN
        )

    def refused() -> JSONResponse:
        return JSONResponse({"message": "401 Unauthorized"}, status_code=401)

    def not_found() -> JSONResponse:
        return JSONResponse({"message": "404 Not found"}, status_code=404)

    def key(request: Request) -> tuple[str, int]:
        return request.path_params["project"], request.path_params["pipeline_id"]

    async def pipeline(request: Request) -> Response:
        state.api_requests.append(str(request.url.path) + "?" + str(request.url.query))
        if not authorised(request):
            return refused()
        found = state.gitlab_pipelines.get(key(request))
        return JSONResponse(found) if found else not_found()

    async def jobs(request: Request) -> Response:
        state.api_requests.append(str(request.url.path) + "?" + str(request.url.query))
        if not authorised(request):
            return refused()
        if key(request) not in state.gitlab_jobs:
            return not_found()
        every = sorted(state.gitlab_jobs[key(request)], key=lambda job: -job["id"])
        if request.query_params.get("include_retried") != "true":
            latest: dict[str, dict[str, Any]] = {}
            for job in every:
                latest.setdefault(job["name"], job)
            every = sorted(latest.values(), key=lambda job: -job["id"])
        page_items, page, pages = _page_of(request, every, 20)
        headers = {
            "X-Page": str(page),
            "X-Per-Page": request.query_params.get("per_page", "20"),
            "X-Total": str(len(every)),
            "X-Total-Pages": str(pages),
            "X-Next-Page": str(page + 1) if page < pages else "",
            "X-Prev-Page": str(page - 1) if page > 1 else "",
        }
        return JSONResponse(page_items, headers=headers)

    pipelines = "/api/v4/projects/{project}/pipelines/{pipeline_id:int}"
    return [Route(pipelines, pipeline), Route(pipelines + "/jobs", jobs)]


# --- cipulse ingest ---------------------------------------------------------------------------


def _ingest_routes(state: FakeCI) -> list[Route]:
    async def ingest(request: Request) -> Response:
        state.ingest_posts.append(
            Post(request.url.path, dict(request.headers), await request.body())
        )
        if not state.ingest_answers:
            return JSONResponse({"success": True, "pipeline_run_id": "fake-run-id"})
        answer = state.ingest_answers.pop(0)
        if answer.delay_seconds:
            await asyncio.sleep(answer.delay_seconds)
        return JSONResponse(answer.body, status_code=answer.status, headers=answer.headers)

    return [
        Route("/api/v1/ingest", ingest, methods=["POST"]),
        Route("/v1/metrics/trackEvents", ingest, methods=["POST"]),
    ]


@contextmanager
def fake_ci_apis() -> Iterator[FakeCI]:
    """The fake on a free loopback port; yields its state, which tests fill and inspect."""
    state = FakeCI()
    app = Starlette(
        routes=_github_app_routes(state) + _gitlab_routes(state) + _ingest_routes(state)
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(400):
            if server.started:
                break
            time.sleep(0.025)
        else:
            raise TimeoutError("the fake CI APIs did not start")
        yield state
    finally:
        server.should_exit = True
        thread.join(timeout=10)


# --- Data: the real GitHub examples, and GitLab's documented shapes ------------------------------

GITHUB_RUN = real_fixture("github-rest.get-a-workflow-run.json")
GITHUB_JOBS = real_fixture("github-rest.list-jobs-for-a-workflow-run-attempt.json")
GITHUB_JOB = GITHUB_JOBS["jobs"][0]


def github_run(**changes: Any) -> dict[str, Any]:
    """GitHub's example run (``GET …/actions/runs/{run_id}``) with ``changes``."""
    return {**copy.deepcopy(GITHUB_RUN), **changes}


def _at(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def github_jobs(
    count: int, *, first_started: datetime, seconds: int = 119, **changes: Any
) -> list[dict[str, Any]]:
    """``count`` copies of GitHub's example job, renumbered (``id`` and ``html_url``), named
    ``build 1`` … and started a minute apart from ``first_started``, each lasting
    ``seconds`` (the example's 17:42:40 to 17:44:39); ``changes`` apply to every copy."""
    jobs = []
    for number in range(1, count + 1):
        job = copy.deepcopy(GITHUB_JOB)
        job_id = changes.get("id", GITHUB_JOB["id"] + number)
        started = first_started + timedelta(minutes=number)
        job.update(
            id=job_id,
            name=f"build {number}",
            html_url=GITHUB_JOB["html_url"].rsplit("/", 1)[0] + f"/{job_id}",
            started_at=_at(started),
            completed_at=_at(started + timedelta(seconds=seconds)),
        )
        job.update(changes)
        jobs.append(job)
    return jobs


GITLAB_PROJECT_ID = "278964"
GITLAB_PROJECT_PATH = "gitlab-org/gitlab-runner-fake"
GITLAB_WEB = f"https://gitlab.example.com/{GITLAB_PROJECT_PATH}"
_USER = {
    "id": 1,
    "name": "Administrator",
    "username": "root",
    "state": "active",
    "avatar_url": "http://www.gravatar.com/avatar/e64c7d89f26bd1972efa854d13d7dd61?s=80&d=identicon",
    "web_url": "https://gitlab.example.com/root",
}


def gitlab_pipeline(pipeline_id: int, **changes: Any) -> dict[str, Any]:
    """A pipeline as ``GET /projects/:id/pipelines/:pipeline_id`` documents it."""
    pipeline = {
        "id": pipeline_id,
        "iid": 12,
        "project_id": int(GITLAB_PROJECT_ID),
        "name": "Build pipeline",
        "status": "running",
        "ref": "main",
        "sha": "959e04d7c7a30600c894bd3c0cd0e1ce7f42c11d",
        "before_sha": "959e04d7c7a30600c894bd3c0cd0e1ce7f42c11d",
        "tag": False,
        "yaml_errors": None,
        "user": _USER,
        "created_at": "2024-05-06T10:00:00.000Z",
        "updated_at": "2024-05-06T10:40:00.000Z",
        "started_at": "2024-05-06T10:00:05.000Z",
        "finished_at": None,
        "committed_at": None,
        "duration": None,
        "queued_duration": 0.01,
        "coverage": None,
        "source": "push",
        "web_url": f"{GITLAB_WEB}/-/pipelines/{pipeline_id}",
        "detailed_status": {"icon": "status_running", "text": "running", "label": "running"},
    }
    pipeline.update(changes)
    return pipeline


def gitlab_job(
    job_id: int,
    name: str,
    status: str,
    *,
    pipeline_id: int,
    started: datetime | None,
    seconds: float | None = 60,
    stage: str = "test",
    **changes: Any,
) -> dict[str, Any]:
    """A job as ``GET /projects/:id/pipelines/:pipeline_id/jobs`` documents it."""
    finished = started + timedelta(seconds=seconds) if started and seconds is not None else None
    job = {
        "id": job_id,
        "name": name,
        "stage": stage,
        "status": status,
        "ref": "main",
        "tag": False,
        "coverage": None,
        "allow_failure": False,
        "created_at": "2024-05-06T10:00:00.000Z",
        "started_at": _at(started) if started else None,
        "finished_at": _at(finished) if finished else None,
        "erased_at": None,
        "duration": seconds if finished else None,
        "queued_duration": 0.5,
        "user": _USER,
        "commit": {"id": "959e04d7c7a30600c894bd3c0cd0e1ce7f42c11d", "short_id": "959e04d7"},
        "pipeline": {"id": pipeline_id, "project_id": int(GITLAB_PROJECT_ID), "status": "running"},
        "web_url": f"{GITLAB_WEB}/-/jobs/{job_id}",
        "project": {"ci_job_token_scope_enabled": False},
        "artifacts": [],
        "runner": None,
        "artifacts_expire_at": None,
        "archived": False,
        "tag_list": [],
        "failure_reason": None,
    }
    job.update(changes)
    return job
