"""cipulse report github|gitlab|junit: post a run, or its test reports.

``cipulse report github`` and ``cipulse report gitlab``: read a run from the CI system's
REST API, convert it into RunWatch payloads (one per attempt), and post them as ``cipulse
send`` does. ``cipulse report junit``: post JUnit XML test reports for a run attempt's job."""

from __future__ import annotations

import os

import click
import orjson

from cipulse.cli.context import say
from cipulse.cli.send import Delivery, deliver, delivery_options, exits_with_status
from cipulse.errors import CipulseError
from cipulse.ingestion.junit import converter as junit_converter
from cipulse.reporters import github_api, gitlab_api, junit_upload
from cipulse.reporters.errors import BadInput
from cipulse.reporters.http import RetryingClient
from cipulse.reporters.ingest_client import IngestFormat
from cipulse.reporters.payload import Conversion, ModeChoice

MODES = click.Choice(["auto", "inline", "external"])
#: Largest report checked before sending (the server's own limit may be lower).
MAX_CHECKED_BYTES = 256 * 1024 * 1024


@click.group()
def report() -> None:
    """Report a CI run to a cipulse server, from a step of the CI: GitHub Actions, GitLab CI;
    or the JUnit test reports of a job, from any CI."""


@report.command()
@click.option(
    "--mode",
    type=MODES,
    default="auto",
    show_default=True,
    help="inline: this workflow run, as its last job; external: another run (a workflow "
    "triggered by workflow_run). auto: external when --run-id is given or the event is "
    "workflow_run.",
)
@click.option(
    "--run-id",
    type=click.IntRange(min=0),
    help="Run to report [default: inline GITHUB_RUN_ID; external workflow_run.id of the "
    "event file GITHUB_EVENT_PATH].",
)
@click.option(
    "--run-attempt",
    type=click.IntRange(min=1),
    help="Attempt to report [default: inline GITHUB_RUN_ATTEMPT; external the event's "
    "run_attempt, else the latest].",
)
@click.option("--repository", help="owner/name [default: GITHUB_REPOSITORY].")
@click.option("--api-url", help="GitHub REST API [default: GITHUB_API_URL, else api.github.com].")
@click.option(
    "--job-name",
    help="Name of this job, left out of an inline report [default: GITHUB_JOB; the job on "
    "this runner (RUNNER_NAME), or the only job in progress, is left out too].",
)
@delivery_options
@exits_with_status
def github(
    mode: ModeChoice,
    run_id: int | None,
    run_attempt: int | None,
    repository: str | None,
    api_url: str | None,
    job_name: str | None,
    delivery: Delivery,
) -> None:
    """Report a GitHub Actions workflow run (one attempt, with its jobs).

    Reads the run and its jobs with the REST API (token: GITHUB_TOKEN; the workflow needs
    `permissions: actions: read`). A run still in progress (inline) gets the status of its
    finished jobs: failure if one failed, else timed_out, cancelled, success, skipped. Retries
    and exit statuses as `cipulse send`, and 4 when the GitHub API refused to give the run."""
    delivery.check()
    target = github_api.resolve_target(
        os.environ,
        mode=mode,
        repository=repository,
        api_url=api_url,
        run_id=run_id,
        attempt=run_attempt,
        job_name=job_name,
    )
    token = os.environ.get("GITHUB_TOKEN", "").strip()
    if not token:
        raise BadInput("GITHUB_TOKEN is not set: pass the workflow's token to this step")
    with delivery.client() as client:
        conversion = github_api.collect(client, target, token)
        origin = f"{target.repository} run {target.run_id}"
        _post(delivery, client, conversion, origin)


@report.command()
@click.option(
    "--mode",
    type=MODES,
    default="auto",
    show_default=True,
    help="inline: this pipeline, from a job of it (in .post); external: another pipeline. "
    "auto: external when --pipeline-id is given.",
)
@click.option(
    "--pipeline-id",
    type=click.IntRange(min=0),
    help="Pipeline to report [default: CI_PIPELINE_ID].",
)
@click.option("--project", help="Project id or path [default: CI_PROJECT_ID].")
@click.option("--project-path", help="group/name, the repository [default: CI_PROJECT_PATH].")
@click.option("--api-url", help="GitLab REST API v4 [default: CI_API_V4_URL].")
@delivery_options
@exits_with_status
def gitlab(
    mode: ModeChoice,
    pipeline_id: int | None,
    project: str | None,
    project_path: str | None,
    api_url: str | None,
    delivery: Delivery,
) -> None:
    """Report a GitLab CI pipeline with its jobs, one attempt per retry round.

    Reads the pipeline and its jobs, retried ones too, with the REST API (token:
    CIPULSE_GITLAB_TOKEN or GITLAB_TOKEN, sent as PRIVATE-TOKEN, else CI_JOB_TOKEN as
    JOB-TOKEN). The first try of each job is attempt 1, the second tries attempt 2, and so on.
    Inline, this job (CI_JOB_ID) is left out and a pipeline still running gets the status of
    its finished jobs' latest tries (an allowed failure passes). Retries and exit statuses as
    `cipulse send`, and 4 when the GitLab API refused to give the pipeline."""
    delivery.check()
    target = gitlab_api.resolve_target(
        os.environ,
        mode=mode,
        api_url=api_url,
        project=project,
        project_path=project_path,
        pipeline_id=pipeline_id,
    )
    token = gitlab_api.token_from(os.environ)
    with delivery.client() as client:
        conversion = gitlab_api.collect(client, target, token)
        origin = f"{target.project_path} pipeline {target.pipeline_id}"
        _post(delivery, client, conversion, origin)


def _post(delivery: Delivery, client: RetryingClient, conversion: Conversion, origin: str) -> None:
    """Post each attempt's payload in order; the first that fails ends the command (posting
    them all again is safe: the server updates what it has)."""
    for note in conversion.notes:
        say(f"note: {note}")
    for payload in conversion.payloads:
        attempt = f"{origin} attempt {payload['run_attempt']}"
        say(f"{attempt}: {payload['status']}, {len(payload['jobs'])} jobs ({payload['mode']})")
        deliver(delivery, client, IngestFormat.RUNWATCH, orjson.dumps(payload), attempt)


@report.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--run", "pipeline_run_id", help="The pipeline run id the ingest answered.")
@click.option("--provider", help="github, gitlab, bitbucket, or the code host's name.")
@click.option("--repository", help="owner/name [default: GITHUB_REPOSITORY, CI_PROJECT_PATH].")
@click.option("--pipeline", help="Pipeline key or name, where run ids are per pipeline.")
@click.option("--run-id", help="Run id [default: GITHUB_RUN_ID, CI_PIPELINE_ID].")
@click.option(
    "--run-attempt",
    type=click.IntRange(min=1),
    help="Attempt [default: GITHUB_RUN_ATTEMPT, else 1].",
)
@click.option("--job", help="Job the reports are of [default: GITHUB_JOB, CI_JOB_NAME].")
@delivery_options
@exits_with_status
def junit(
    files: tuple[str, ...],
    pipeline_run_id: str | None,
    provider: str | None,
    repository: str | None,
    pipeline: str | None,
    run_id: str | None,
    run_attempt: int | None,
    job: str | None,
    delivery: Delivery,
) -> None:
    """Send JUnit XML test reports (FILES: paths or globs, such as 'reports/**/*.xml').

    The reports are checked here as the server reads them, then sent gzip-compressed in
    one request, for a run attempt: --run, or the run's natural keys, which GitHub Actions
    and GitLab CI give by default. The run may arrive later: its results wait for it.
    Sending the same reports again stores nothing more. Retries and exit statuses as
    `cipulse send`."""
    delivery.check()
    given = junit_upload.RunTarget(
        pipeline_run_id, provider, repository, pipeline, run_id, run_attempt, job
    )
    target = junit_upload.target_from(os.environ, given)
    paths = junit_upload.report_files(files)
    sent = [(str(path), junit_upload.compressed(path)) for path in paths]
    cases = sum(_checked(name, data) for name, data in sent)
    say(f"{len(sent)} reports, {cases} test cases: {', '.join(name for name, _ in sent)}")
    if delivery.dry_run:
        say("valid JUnit reports; not sent (--dry-run)")
        return
    url, api_key = delivery.destination()
    with delivery.client() as client:
        shown_url, answer = junit_upload.post_reports(client, url, api_key, target, sent)
    click.echo(answer.decode(errors="replace"))
    say(f"stored: {len(sent)} reports → {shown_url}")


def _checked(name: str, data: bytes) -> int:
    """The report's test cases, read as the server will; a bad report fails here."""
    try:
        return len(junit_converter.convert(data, name, MAX_CHECKED_BYTES).cases)
    except CipulseError as exc:
        raise BadInput(exc.message) from None
