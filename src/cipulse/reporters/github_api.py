"""``cipulse report github``: which run, read with GitHub's REST API.

The GitHub Actions side of ``cipulse report github``: which run to report (from the
options and the environment of a workflow step), and reading it with the REST API: the run
attempt, then its jobs a hundred at a time, following ``Link: rel="next"``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from cipulse.reporters.errors import BadInput, parsed
from cipulse.reporters.github_convert import OwnJob, convert
from cipulse.reporters.github_schema import Job, JobsPage, WorkflowRun
from cipulse.reporters.http import RetryingClient, link_next
from cipulse.reporters.payload import Conversion, Mode, ModeChoice, chosen_mode

DEFAULT_API_URL = "https://api.github.com"
SOURCE = "GitHub API"
_RUN = TypeAdapter(WorkflowRun)
_JOBS_PAGE = TypeAdapter(JobsPage)


@dataclass(frozen=True, slots=True)
class GitHubTarget:
    api_url: str
    repository: str
    run_id: int
    attempt: int | None  # None: the run's latest attempt
    mode: Mode
    own: OwnJob


def resolve_target(
    environ: Mapping[str, str],
    *,
    mode: ModeChoice = "auto",
    repository: str | None = None,
    api_url: str | None = None,
    run_id: int | None = None,
    attempt: int | None = None,
    job_name: str | None = None,
) -> GitHubTarget:
    """The run to report. ``auto`` is ``external`` when ``run_id`` is given or the workflow
    was triggered by ``workflow_run``, else ``inline``. Inline reports ``GITHUB_RUN_ID`` /
    ``GITHUB_RUN_ATTEMPT``; external reports ``run_id``, else the ``workflow_run`` of the
    event file (``GITHUB_EVENT_PATH``)."""
    repository = _repository(repository or environ.get("GITHUB_REPOSITORY", ""))
    triggered_by_run = environ.get("GITHUB_EVENT_NAME") == "workflow_run"
    external = chosen_mode(mode, external=run_id is not None or triggered_by_run) == "external"
    base = (api_url or environ.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/")
    if external:
        if run_id is None:
            run_id, event_attempt = _triggering_run(environ)
            attempt = attempt or event_attempt
        return GitHubTarget(base, repository, run_id, attempt, "external", OwnJob())
    run_id = run_id or _number(environ, "GITHUB_RUN_ID")
    attempt = attempt or _number(environ, "GITHUB_RUN_ATTEMPT", default=1)
    own = OwnJob(
        name=job_name or environ.get("GITHUB_JOB") or None,
        runner_name=environ.get("RUNNER_NAME") or None,
    )
    return GitHubTarget(base, repository, run_id, attempt, "inline", own)


def _repository(repository: str) -> str:
    """``repository`` if it is ``owner/name``."""
    if repository.count("/") != 1 or not all(repository.split("/")):
        raise BadInput(
            "the repository (owner/name) is unknown: set GITHUB_REPOSITORY or --repository"
        )
    return repository


def _number(environ: Mapping[str, str], name: str, default: int | None = None) -> int:
    value = environ.get(name, "").strip()
    if not value and default is not None:
        return default
    if not value.isdigit():
        raise BadInput(
            f"{name} is {'not set' if not value else f'not a number ({value!r})'}: inline mode "
            "runs as a step of the workflow run it reports (or give --run-id)"
        )
    return int(value)


def _triggering_run(environ: Mapping[str, str]) -> tuple[int, int | None]:
    """``workflow_run.id`` and ``run_attempt`` of a ``workflow_run`` event file."""
    path = environ.get("GITHUB_EVENT_PATH")
    if not path:
        raise BadInput(
            "external mode needs --run-id, or the event file (GITHUB_EVENT_PATH) of a "
            "workflow triggered by workflow_run"
        )
    try:
        event: Any = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BadInput(f"GITHUB_EVENT_PATH: cannot read the event file {path}: {exc}") from None
    run = event.get("workflow_run") if isinstance(event, dict) else None
    if not isinstance(run, dict) or not isinstance(run.get("id"), int):
        raise BadInput(
            f"GITHUB_EVENT_PATH: {path} is not a workflow_run event (no workflow_run.id); "
            "give --run-id"
        )
    attempt = run.get("run_attempt")
    return run["id"], attempt if isinstance(attempt, int) else None


def hints_for(repository: str) -> dict[int, str]:
    access = (
        f"is {repository} the right repository, and may the token read its Actions "
        "(permissions: actions: read)?"
    )
    return {401: "is GITHUB_TOKEN a valid token?", 403: access, 404: access}


def headers_for(token: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token}",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
    }


def fetch(
    client: RetryingClient, target: GitHubTarget, token: str
) -> tuple[WorkflowRun, list[Job]]:
    """The run attempt and all its jobs (each once, even if the list moved between pages)."""
    headers = headers_for(token)
    runs = f"{target.api_url}/repos/{target.repository}/actions/runs/{target.run_id}"
    url = f"{runs}/attempts/{target.attempt}" if target.attempt else runs
    hints = hints_for(target.repository)
    document, _ = client.get_json(url, headers, SOURCE, hints)
    run = parsed(_RUN, document, SOURCE, url)
    jobs_url = f"{runs}/attempts/{run.run_attempt}/jobs?per_page=100"
    jobs: dict[int, Job] = {}
    for page in client.get_pages(jobs_url, headers, SOURCE, link_next, hints):
        for job in parsed(_JOBS_PAGE, page, SOURCE, jobs_url).jobs:
            jobs.setdefault(job.id, job)
    return run, list(jobs.values())


def collect(client: RetryingClient, target: GitHubTarget, token: str) -> Conversion:
    """Read the run and convert it into one RunWatch payload."""
    run, jobs = fetch(client, target, token)
    return convert(run, jobs, repository=target.repository, mode=target.mode, own=target.own)
