"""``cipulse report gitlab``: which pipeline, read with GitLab's API.

The GitLab side of ``cipulse report gitlab``: which pipeline to report (from the options
and the predefined variables of a CI/CD job), the token to read it with, and reading it with
the REST API: the pipeline, then its jobs with the retried ones, a hundred at a time,
following ``Link: rel="next"`` or ``X-Next-Page``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote

import httpx
from pydantic import TypeAdapter

from cipulse.reporters.errors import BadInput, parsed
from cipulse.reporters.gitlab_convert import convert
from cipulse.reporters.gitlab_schema import Job, Pipeline
from cipulse.reporters.http import RetryingClient, link_next
from cipulse.reporters.payload import ChangeReport, Conversion, Mode, ModeChoice, chosen_mode

SOURCE = "GitLab API"
_PIPELINE = TypeAdapter(Pipeline)
_JOBS = TypeAdapter(list[Job])

#: Where the token comes from, in this order: (variable, header).
TOKEN_VARIABLES = (
    ("CIPULSE_GITLAB_TOKEN", "PRIVATE-TOKEN"),
    ("GITLAB_TOKEN", "PRIVATE-TOKEN"),
    ("CI_JOB_TOKEN", "JOB-TOKEN"),
)


@dataclass(frozen=True, slots=True)
class GitLabToken:
    variable: str
    header: str
    value: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class GitLabTarget:
    api_url: str
    project: str  # the id, or the URL-encoded path
    project_path: str
    pipeline_id: int
    mode: Mode
    own_job_id: int | None
    config_path: str | None
    #: What the CI job's variables say of the commit and merge request, when the pipeline
    #: reported is the job's own (GitLab's pipeline API tells neither).
    change: ChangeReport = field(default_factory=ChangeReport)


def token_from(environ: Mapping[str, str]) -> GitLabToken:
    for variable, header in TOKEN_VARIABLES:
        value = environ.get(variable, "").strip()
        if value:
            return GitLabToken(variable, header, value)
    raise BadInput(
        "no GitLab token: set CIPULSE_GITLAB_TOKEN (a project access token with read_api) "
        "or GITLAB_TOKEN; CI_JOB_TOKEN is used when neither is set"
    )


def resolve_target(
    environ: Mapping[str, str],
    *,
    mode: ModeChoice = "auto",
    api_url: str | None = None,
    project: str | None = None,
    project_path: str | None = None,
    pipeline_id: int | None = None,
) -> GitLabTarget:
    """The pipeline to report. ``auto`` is ``external`` when ``pipeline_id`` is given, else
    ``inline``: the pipeline of the job this runs in (``CI_PIPELINE_ID``), without that job
    (``CI_JOB_ID``). The pipeline is named after the project's CI configuration file
    (``CI_CONFIG_PATH``)."""
    base = (api_url or environ.get("CI_API_V4_URL", "")).rstrip("/")
    if not base:
        raise BadInput("the GitLab API URL is unknown: set CI_API_V4_URL or --api-url")
    project = project or environ.get("CI_PROJECT_ID", "").strip()
    if not project:
        raise BadInput("the project is unknown: set CI_PROJECT_ID or --project")
    project_path = (project_path or environ.get("CI_PROJECT_PATH", "")).strip("/")
    if "/" not in project_path:
        raise BadInput(
            "the project's path (group/name) is unknown: set CI_PROJECT_PATH or --project-path"
        )
    chosen = chosen_mode(mode, external=pipeline_id is not None)
    reported = _pipeline_id(environ) if pipeline_id is None else pipeline_id
    return GitLabTarget(
        api_url=base,
        project=project if project.isdigit() else quote(project, safe=""),
        project_path=project_path,
        pipeline_id=reported,
        mode=chosen,
        own_job_id=_number(environ, "CI_JOB_ID") if chosen == "inline" else None,
        config_path=environ.get("CI_CONFIG_PATH") or None,
        change=job_variables_change(environ, reported),
    )


def job_variables_change(environ: Mapping[str, str], pipeline_id: int) -> ChangeReport:
    """The commit and merge request GitLab's predefined variables name, when this runs in
    a job of ``pipeline_id`` (else they are of another pipeline: nothing). The author is
    ``CI_COMMIT_AUTHOR`` without its e-mail address (``Name <email>``)."""
    if environ.get("CI_PIPELINE_ID", "").strip() != str(pipeline_id):
        return ChangeReport()
    author = environ.get("CI_COMMIT_AUTHOR", "").split("<")[0].strip()
    iid = environ.get("CI_MERGE_REQUEST_IID", "").strip()
    project_url = environ.get("CI_MERGE_REQUEST_PROJECT_URL", "").rstrip("/")
    return ChangeReport(
        commit_message=environ.get("CI_COMMIT_TITLE") or environ.get("CI_COMMIT_MESSAGE"),
        commit_author=author or None,
        pull_request_number=int(iid) if iid.isdigit() and int(iid) > 0 else None,
        pull_request_title=environ.get("CI_MERGE_REQUEST_TITLE") or None,
        pull_request_url=f"{project_url}/-/merge_requests/{iid}"
        if project_url and iid.isdigit()
        else None,
        pull_request_source_branch=environ.get("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME") or None,
        pull_request_target_branch=environ.get("CI_MERGE_REQUEST_TARGET_BRANCH_NAME") or None,
    )


def _pipeline_id(environ: Mapping[str, str]) -> int:
    pipeline_id = _number(environ, "CI_PIPELINE_ID")
    if pipeline_id is None:
        raise BadInput(
            "CI_PIPELINE_ID is not set: run this in a GitLab CI/CD job, or give --pipeline-id"
        )
    return pipeline_id


def _number(environ: Mapping[str, str], name: str) -> int | None:
    value = environ.get(name, "").strip()
    if not value:
        return None
    if not value.isdigit():
        raise BadInput(f"{name} is not a number ({value!r})")
    return int(value)


def gitlab_next(response: httpx.Response) -> str | None:
    """The next page: ``Link: rel="next"``, else ``X-Next-Page`` (empty on the last page)."""
    following = link_next(response)
    if following:
        return following
    page = response.headers.get("X-Next-Page", "").strip()
    if not page:
        return None
    return str(response.request.url.copy_set_param("page", page))


def hints_for(token: GitLabToken) -> dict[int, str]:
    access = f"may the token in {token.variable} read this project's pipelines?" + (
        " CI_JOB_TOKEN can only where the project allows it; set CIPULSE_GITLAB_TOKEN to a "
        "project access token with read_api"
        if token.header == "JOB-TOKEN"
        else ""
    )
    return {401: f"is {token.variable} a valid token?", 403: access, 404: access}


def fetch(
    client: RetryingClient, target: GitLabTarget, token: GitLabToken
) -> tuple[Pipeline, list[Job]]:
    """The pipeline and every try of its jobs (each once)."""
    headers = {token.header: token.value}
    hints = hints_for(token)
    url = f"{target.api_url}/projects/{target.project}/pipelines/{target.pipeline_id}"
    document, _ = client.get_json(url, headers, SOURCE, hints)
    pipeline = parsed(_PIPELINE, document, SOURCE, url)
    jobs_url = f"{url}/jobs?per_page=100&include_retried=true"
    jobs: dict[int, Job] = {}
    for page in client.get_pages(jobs_url, headers, SOURCE, gitlab_next, hints):
        for job in parsed(_JOBS, page, SOURCE, jobs_url):
            jobs.setdefault(job.id, job)
    return pipeline, list(jobs.values())


def collect(client: RetryingClient, target: GitLabTarget, token: GitLabToken) -> Conversion:
    """Read the pipeline and convert it into one RunWatch payload."""
    pipeline, jobs = fetch(client, target, token)
    return convert(
        pipeline,
        jobs,
        repository=target.project_path,
        config_path=target.config_path,
        mode=target.mode,
        own_job_id=target.own_job_id,
        change=target.change,
    )
