"""GitHub webhooks: ``POST /webhooks/github/{org}`` with the real payloads of
``tests/fixtures/real`` (octokit's examples and CIMonitor's recorded deliveries), on
SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import csv
import io
import json
import re

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from cipulse.accounts.webhooks import WebhookService
from cipulse.analytics.refresh import refresh_all
from cipulse.cli.main import cli
from cipulse.domain.model import WebhookProvider
from cipulse.settings import Settings
from cipulse.storage.database import Database
from tests.builders import real_fixture
from tests.conftest import count, rows
from tests.webhooks import (
    GITHUB_SECRET,
    Hooked,
    hooked_org,
    post_github,
    read,
    replayed_alike,
    sequence,
)

WINDOW = {"since": "2019-01-01T00:00:00Z", "until": "2028-01-01T00:00:00Z"}
RUN_COMPLETED = "github-workflow_run.completed.json"
JOB_COMPLETED = "github-workflow_job.completed.failure.with-organization.json"


@pytest.fixture
def org(database: Database) -> Hooked:
    return hooked_org(database)


def test_deliveries_without_the_right_signature_store_nothing(
    client: TestClient, org: Hooked, database: Database
) -> None:
    payload = real_fixture(RUN_COMPLETED)
    missing = post_github(client, org.name, "workflow_run", payload, secret=None)
    wrong = post_github(client, org.name, "workflow_run", payload, secret="guess")
    assert (missing.status_code, wrong.status_code) == (401, 401)
    assert "X-Hub-Signature-256" in missing.json()["error"]
    assert "does not match" in wrong.json()["error"]
    # Signed, then changed on the way: the signature covers the raw body.
    body = json.dumps(payload).encode()
    headers = {
        "X-GitHub-Event": "workflow_run",
        "X-Hub-Signature-256": post_github.__globals__["github_signature"](GITHUB_SECRET, body),
    }
    tampered = client.post(
        f"/webhooks/github/{org.name}",
        content=body.replace(b"success", b"failure"),
        headers=headers,
    )
    assert tampered.status_code == 401
    unknown = post_github(client, "nobody", "workflow_run", payload)
    assert unknown.status_code == 404
    assert count(database, "run_attempts") == 0


def test_an_organisation_without_a_secret_is_told_how_to_set_one(
    client: TestClient, database: Database
) -> None:
    from cipulse.accounts.service import AccountService

    AccountService(database).create_organisation("bare")
    response = post_github(client, "bare", "workflow_run", real_fixture(RUN_COMPLETED))
    assert response.status_code == 401
    assert "cipulse orgs set-webhook-secret bare --provider github" in response.json()["error"]


def test_ping_and_other_events(client: TestClient, org: Hooked, database: Database) -> None:
    ping = post_github(client, org.name, "ping", {"zen": "Design for failure.", "hook_id": 1})
    assert ping.status_code == 200
    push = sequence("github-push-failed")[0]
    assert push.event == "push"
    ignored = post_github(client, org.name, push.event, push.body)
    assert (ignored.status_code, ignored.json()["ignored"]) == (202, "push")
    assert count(database, "run_attempts") == count(database, "jobs") == 0


def test_a_bad_payload_names_the_field(client: TestClient, org: Hooked, database: Database) -> None:
    payload = real_fixture(RUN_COMPLETED)
    del payload["workflow_run"]["workflow_id"]
    response = post_github(client, org.name, "workflow_run", payload)
    assert response.status_code == 400
    assert "workflow_run.workflow_id" in response.json()["error"]
    broken = post_github(client, org.name, "workflow_job", b"{not json")
    assert broken.status_code == 400
    assert count(database, "run_attempts") == 0


def test_redeliveries_are_stored_once(client: TestClient, org: Hooked, database: Database) -> None:
    payload = real_fixture(JOB_COMPLETED)
    first = post_github(client, org.name, "workflow_job", payload, delivery="d-1")
    again = post_github(client, org.name, "workflow_job", payload, delivery="d-1")
    assert first.json()["success"] and "duplicate" not in first.json()
    assert again.json() == {"success": True, "duplicate": True}
    assert count(database, "webhook_deliveries") == 1


@pytest.mark.parametrize(
    "name",
    [
        "github-workflow_run.completed.json",
        "github-workflow_run.completed.with-pull-requests.json",
        "github-workflow_run.requested.json",
        "github-workflow_run.requested.with-conclusion.json",
        "github-workflow_job.completed.failure.with-organization.json",
        "github-workflow_job.completed.success.with-organization.json",
        "github-workflow_job.in_progress.json",
        "github-workflow_job.in_progress.with-queued-steps.json",
        "github-workflow_job.queued.json",
        "github-workflow_job.queued.with-deployment.json",
        "github-workflow_job.waiting.json",
    ],
)
def test_every_real_example_is_stored(
    client: TestClient, org: Hooked, database: Database, name: str
) -> None:
    event = name.split(".")[0].removeprefix("github-")
    response = post_github(client, org.name, event, real_fixture(name))
    assert response.status_code == 200, response.text
    assert count(database, "run_attempts" if event == "workflow_run" else "jobs") >= 1


def test_the_job_before_its_run(client: TestClient, org: Hooked, database: Database) -> None:
    """A job event first (its run unknown), then the run: nothing is lost, and the read
    API shows what the payloads say."""
    job_payload = real_fixture(JOB_COMPLETED)
    run_payload = real_fixture(RUN_COMPLETED)
    job = job_payload["workflow_job"]
    # The examples come from different runs: point the job at the run example's.
    job["run_id"] = run_payload["workflow_run"]["id"]
    job_payload["repository"] = run_payload["repository"]
    assert post_github(client, org.name, "workflow_job", job_payload).status_code == 200
    assert read(client, org, "/api/v1/runs", **WINDOW)["items"] == []
    assert post_github(client, org.name, "workflow_run", run_payload).status_code == 200
    (run,) = read(client, org, "/api/v1/runs", **WINDOW)["items"]
    detail = read(client, org, f"/api/v1/runs/{run['id']}")
    source = run_payload["workflow_run"]
    assert (detail["status"], detail["run_key"], detail["attempt"]) == (
        "success",
        str(source["id"]),
        1,
    )
    assert (detail["pipeline"], detail["branch"], detail["provider"]) == (
        source["name"] or source["path"],  # this example's workflow has no name
        source["head_branch"],
        "github",
    )
    (stored_job,) = detail["jobs"]
    assert (stored_job["name"], stored_job["status"], stored_job["raw_status"]) == (
        job["name"],
        "failure",
        "failure",
    )
    assert stored_job["duration_seconds"] == 198  # 10:34:58 to 10:38:16
    assert stored_job["metrics"]["queue_seconds"] == 60  # created 10:33:58
    assert stored_job["tags"]["runner_labels"] == "ubuntu-latest"
    assert [step["name"] for step in stored_job["children"]] == [
        f"{job['name']} / {step['name']}" for step in job["steps"]
    ]
    assert detail["compute_seconds"] == 198


@pytest.mark.parametrize("folder", ["github-push-failed", "github-push-organisation"])
def test_recorded_deliveries_in_order_and_shuffled_store_the_same(
    client: TestClient, database: Database, folder: str
) -> None:
    deliveries = sequence(folder)
    org = replayed_alike(client, database, deliveries, seeds=(1, 2, 3))
    check_numbers(client, org, deliveries)


def check_numbers(client: TestClient, org: Hooked, deliveries: list) -> None:  # type: ignore[type-arg]
    """The read API says what the last run and job events said."""
    runs = [d.body["workflow_run"] for d in deliveries if d.event == "workflow_run"]
    jobs = {
        d.body["workflow_job"]["id"]: d.body["workflow_job"]
        for d in deliveries
        if d.event == "workflow_job"
    }
    final_run = runs[-1]
    (item,) = read(client, org, "/api/v1/runs", **WINDOW)["items"]
    detail = read(client, org, f"/api/v1/runs/{item['id']}")
    assert detail["status"] == final_run["conclusion"]
    assert detail["run_number"] == final_run["run_number"]
    assert detail["duration_seconds"] == _seconds(
        final_run["run_started_at"], final_run["updated_at"]
    )
    by_name = {job["name"]: job for job in detail["jobs"]}
    assert len(by_name) == len(jobs)
    durations = 0.0
    for job in jobs.values():
        stored = by_name[job["name"]]
        assert stored["status"] == job["conclusion"]
        assert stored["duration_seconds"] == _seconds(job["started_at"], job["completed_at"])
        durations += stored["duration_seconds"] or 0
        assert len(stored["children"]) == len(job["steps"])
    assert detail["compute_seconds"] == pytest.approx(durations)
    summary = read(client, org, "/api/v1/analytics/summary", **WINDOW)
    assert summary["runs"] == 1
    assert summary["compute_seconds"] == pytest.approx(durations)


def _seconds(start: str, end: str) -> float:
    from datetime import datetime

    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def test_the_repository_default_branch_comes_from_the_payload(
    client: TestClient, org: Hooked, database: Database
) -> None:
    payload = real_fixture(RUN_COMPLETED)
    payload["repository"]["default_branch"] = "trunk"
    post_github(client, org.name, "workflow_run", payload)
    (repository,) = rows(database, "repositories")
    assert repository["default_branch"] == "trunk"


def test_set_webhook_secret_from_stdin_or_generated(settings: Settings, database: Database) -> None:
    from cipulse.accounts.service import AccountService

    AccountService(database).create_organisation("acme")
    runner = CliRunner()
    env = {"CIPULSE_DATABASE_URL": settings.database_url}
    given = runner.invoke(
        cli,
        ["orgs", "set-webhook-secret", "acme", "--provider", "github"],
        input="s3cret\n",
        env=env,
    )
    assert given.exit_code == 0, given.output
    assert "s3cret" not in given.stdout
    (row,) = rows(database, "webhook_secrets")
    assert (row["provider"], row["secret"]) == ("github", "s3cret")
    generated = runner.invoke(
        cli, ["orgs", "set-webhook-secret", "acme", "--provider", "gitlab"], input="", env=env
    )
    assert generated.exit_code == 0, generated.output
    secret = generated.stdout.strip()
    assert len(secret) >= 32
    gitlab = rows(database, "webhook_secrets", provider="gitlab")[0]
    assert gitlab["secret"] is None  # GitLab's token is compared by its hash only
    assert "/webhooks/gitlab/acme" in generated.stderr
    unknown = runner.invoke(
        cli, ["orgs", "set-webhook-secret", "nope", "--provider", "github"], input="x", env=env
    )
    assert unknown.exit_code != 0
    assert WebhookService(database).secrets_set(
        AccountService(database).organisation("acme").id
    ).keys() == {
        WebhookProvider.GITHUB.value,
        WebhookProvider.GITLAB.value,
    }


def test_webhook_runs_on_the_dashboard(client: TestClient, org: Hooked, database: Database) -> None:
    """What the recorded deliveries stored shows on the dashboard: the pipeline, its failing
    run with the jobs and steps, and the red branch."""
    from cipulse.accounts.users import UserService
    from tests.test_dashboard import PASSWORD, sign_in

    for delivery in sequence("github-push-failed"):
        post_github(client, org.name, delivery.event, delivery.body)
    UserService(database).create_user("ada@example.com", org.name, PASSWORD)
    assert sign_in(client, "ada@example.com").status_code == 303
    view = "since=2023-11-01&until=2023-11-30"
    pipelines = client.get(f"/pipelines?{view}")
    assert pipelines.status_code == 200
    assert "Build the CIMonitor latest container" in pipelines.text
    (run,) = read(client, org, "/api/v1/runs", **WINDOW)["items"]
    page = client.get(f"/runs/{run['id']}?{view}")
    assert page.status_code == 200
    for name in ("Test / ESLint", "Test / Backend typescript", "Run eslint check"):
        assert name in page.text
    assert "https://github.com/FuturePortal/CIMonitor/actions/runs/6757418578" in page.text
    jobs = read(client, org, "/api/v1/analytics/jobs", **WINDOW)["items"]
    queued = [job for job in jobs if job["mean_queue_seconds"] is not None]
    assert queued  # GitHub gives every job that started its queue time
    jobs_page = client.get(f"/jobs?{view}").text
    assert "Mean queue (" in jobs_page  # in a unit, like every duration column
    shown = re.findall(r'data-field="mean_queue_seconds">([^<]*)<', jobs_page)
    assert len(shown) == len(jobs)
    assert len([text for text in shown if text != "—"]) == len(queued)


def test_a_new_secret_works_at_once(client: TestClient, org: Hooked, database: Database) -> None:
    """The server keeps the secret in memory for a few seconds; a delivery signed with a
    secret it does not know yet is checked against the database again."""
    payload = real_fixture(RUN_COMPLETED)
    assert post_github(client, org.name, "workflow_run", payload).status_code == 200
    WebhookService(database).set_secret(org.name, WebhookProvider.GITHUB, "rotated")
    response = post_github(client, org.name, "workflow_run", payload, secret="rotated")
    assert response.status_code == 200, response.text
    assert post_github(client, org.name, "workflow_run", payload, secret="nope").status_code == 401


def test_a_skipped_job_that_ends_before_it_starts_is_stored_with_warnings(
    client: TestClient, org: Hooked, database: Database
) -> None:
    """GitHub ends some skipped jobs (and steps) before they start: stored, times as sent,
    durations unknown, and the answer says so."""
    payload = real_fixture(JOB_COMPLETED)
    job = payload["workflow_job"]
    job.update(conclusion="skipped", completed_at="2021-08-05T10:34:57Z")
    job["steps"][7]["completed_at"] = "2021-08-03T10:26:27.000Z"
    response = post_github(client, org.name, "workflow_job", payload)
    assert response.status_code == 200
    assert response.json()["warnings"] == [
        "workflow_job.completed_at: 2021-08-05T10:34:57Z is before started_at "
        "2021-08-05T10:34:58Z; both kept as sent, the duration stored as unknown",
        "workflow_job.steps[7].completed_at: 2021-08-03T10:26:27Z is before started_at "
        "2021-08-05T10:26:27Z; both kept as sent, the duration stored as unknown",
    ]
    stored = {row["node_key"]: row for row in rows(database, "jobs")}
    skipped = stored["job:289782451"]
    assert (skipped["status"], skipped["raw_status"]) == ("skipped", "skipped")
    assert (skipped["started_at_ms"], skipped["completed_at_ms"]) == (1628159698000, 1628159697000)
    assert skipped["duration_seconds"] is None
    assert stored["job:289782451/step:8"]["duration_seconds"] is None
    assert stored["job:289782451/step:7"]["duration_seconds"] == 2
    assert (
        "warnings"
        not in post_github(client, org.name, "workflow_job", real_fixture(JOB_COMPLETED)).json()
    )


def _job_of_run(name: str, run: dict, attempt: int, job_id: int) -> dict:  # type: ignore[type-arg]
    """The real ``workflow_job`` delivery ``name``, pointed at attempt ``attempt`` of the
    real run ``run``, as job ``job_id``."""
    payload = real_fixture(name)
    job = payload["workflow_job"]
    job["run_id"], job["run_attempt"], job["id"] = run["workflow_run"]["id"], attempt, job_id
    payload["repository"] = run["repository"]
    return payload  # type: ignore[no-any-return]


def _jobs_csv(client: TestClient, org: Hooked, **params: str) -> dict[str, dict[str, str]]:
    response = client.get(
        "/api/v1/analytics/jobs",
        params={**WINDOW, "format": "csv", **params},
        headers={"X-API-Key": org.read_key},
    )
    assert response.status_code == 200, response.text
    return {row["job"]: row for row in csv.DictReader(io.StringIO(response.text))}


def test_mean_queue_per_job_worked_out_by_hand(
    client: TestClient, org: Hooked, database: Database
) -> None:
    """Mean queue time per job from real workflow_job deliveries: over the executions that
    carry queue_seconds (the queued job never started: unknown, not 0), the same read from
    the raw rows and from the rollups, in the JSON and in both CSVs."""
    first = real_fixture(RUN_COMPLETED)
    second = copy.deepcopy(first)
    second["workflow_run"]["run_attempt"] = 2
    failed = _job_of_run(JOB_COMPLETED, first, 1, 1)  # created 10:33:58, started 10:34:58
    passed = _job_of_run(
        "github-workflow_job.completed.success.with-organization.json", second, 2, 2
    )
    passed["workflow_job"]["created_at"] = "2021-08-05T10:32:28Z"  # started 10:34:58: 150 s
    queued = _job_of_run("github-workflow_job.queued.json", first, 1, 3)  # "update", queued
    for event, payload in (
        ("workflow_run", first),
        ("workflow_run", second),
        ("workflow_job", failed),
        ("workflow_job", passed),
        ("workflow_job", queued),
    ):
        assert post_github(client, org.name, event, payload).status_code == 200
    for stored in (False, True):
        if stored:
            assert refresh_all(database) > 0
            stored_rows = [r for r in rows(database, "job_rollups") if r["name"] == "linters"]
            assert stored_rows
            for row in stored_rows:  # its day, week and four weeks, and branch scopes
                queue = json.loads(row["metrics"])["queue_seconds"]
                assert (queue["n"], queue["s"], sorted(queue["v"])) == (2, 210.0, [60.0, 150.0])
        items = read(client, org, "/api/v1/analytics/jobs", **WINDOW, level="job")["items"]
        jobs = {row["job"]: row for row in items}
        assert (jobs["linters"]["runs"], jobs["update"]["runs"]) == (2, 1)
        assert jobs["linters"]["mean_queue_seconds"] == (60 + 150) / 2
        assert jobs["update"]["mean_queue_seconds"] is None
        for whole in (False, True):
            exported = _jobs_csv(client, org, **({} if whole else {"limit": "50"}))
            assert exported["linters"]["mean_queue_seconds"] == "105.0"
            assert exported["update"]["mean_queue_seconds"] == ""
