"""How long jobs waited and where they ran: label sets on plain values, then each source's
real payloads (GitHub's ``workflow_job``, GitLab's documented Pipeline Hook and go-gitlab's
Job Hook, the Jenkins plugin's event with the ``init_ms`` its ``Mapper`` sends, RunWatch's
extension fields) read back through the HTTP API on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cipulse.accounts.service import AccountService
from cipulse.domain.runners import Runner, label_set, queue_seconds
from cipulse.storage.database import Database
from tests.builders import real_fixture, runwatch_run
from tests.conftest import rows
from tests.webhooks import Hooked, hooked_org, post_github, post_gitlab, read

WINDOW = {"since": "2016-01-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}
EPOCH = {"since": "1970-01-01T00:00:00Z", "until": "1970-01-02T00:00:00Z"}
GITHUB_JOB = "github-workflow_job.completed.success.with-organization.json"
JENKINS = "trunk-jenkins-plugin-1.4.0.trackEvents.TrackEventsRequestTest.json"


# --- Plain values ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        (["self-hosted", "linux", "x64"], "linux,self-hosted,x64"),
        ("linux, x64,self-hosted", "linux,self-hosted,x64"),
        (["ubuntu-latest"], "ubuntu-latest"),
        (["b", "a", "b", " a "], "a,b"),
        (["GPU", "gpu"], "GPU,gpu"),  # GitLab's tags are case-sensitive
        (["a,b", "c"], "a,b,c"),
        ([], None),
        (["", "  "], None),
        ("", None),
        (None, None),
    ],
)
def test_a_label_set_is_written_one_way(labels: Any, expected: str | None) -> None:
    assert label_set(labels) == expected


def test_blank_runner_facts_are_unknown() -> None:
    assert Runner.of([], " ", "", None) == Runner()
    assert Runner.of(None, "r1", id=380987).columns() == (None, "r1", None, "380987")


def test_a_negative_queue_time_is_unknown() -> None:
    assert [queue_seconds(v) for v in (-1.0, 0.0, 2.5, None)] == [None, 0.0, 2.5, None]


# --- Real payloads over HTTP ---------------------------------------------------------------


@pytest.fixture
def org(database: Database) -> Hooked:
    return hooked_org(database)


@pytest.fixture
def ingest_key(database: Database, org: Hooked) -> str:
    return AccountService(database).create_key(org.name, scopes=("ingest",)).key


def _nodes(nodes: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for node in nodes:
        yield node
        yield from _nodes(node["children"])


def waits(detail: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Each node of a run's job tree by name: its queue time and runner."""
    return {
        node["name"]: (node["queue_seconds"], node["runner"]) for node in _nodes(detail["jobs"])
    }


def only_detail(client: TestClient, org: Hooked, **window: str) -> dict[str, Any]:
    (item,) = read(client, org, "/api/v1/runs", **(window or WINDOW))["items"]
    assert "queue_seconds" in item
    return read(client, org, f"/api/v1/runs/{item['id']}")  # type: ignore[no-any-return]


def post_github_job(client: TestClient, org: Hooked, job: dict[str, Any]) -> None:
    """GitHub's documented ``workflow_run``, made the run of ``job``, then ``job``."""
    run = real_fixture("github-workflow_run.completed.json")
    run["workflow_run"]["id"] = job["workflow_job"]["run_id"]
    run["repository"] = job["repository"]
    for event, body in (("workflow_run", run), ("workflow_job", job)):
        response = post_github(client, org.name, event, body)
        assert response.is_success, response.text


def test_github_job_waited_from_created_to_started_on_its_runner(
    client: TestClient, org: Hooked
) -> None:
    """GitHub's documented ``workflow_job``: created 10:33:58, started 10:34:58, on
    ``GitHub Actions 5`` (id 5) of group ``GitHub Actions``, chosen by ``ubuntu-latest``."""
    body = real_fixture(GITHUB_JOB)
    post_github_job(client, org, body)
    found = waits(only_detail(client, org))[body["workflow_job"]["name"]]
    assert found == (
        60.0,
        {
            "labels": "ubuntu-latest",
            "name": "GitHub Actions 5",
            "group": "GitHub Actions",
            "id": "5",
        },
    )


def test_github_job_with_labels_in_any_order_is_one_label_set(
    client: TestClient, org: Hooked
) -> None:
    body = real_fixture(GITHUB_JOB)
    body["workflow_job"]["labels"] = ["x64", "self-hosted", "linux", "x64"]
    body["workflow_job"]["created_at"] = "2021-08-05T10:35:00Z"  # after it started: unknown
    post_github_job(client, org, body)
    found = waits(only_detail(client, org))[body["workflow_job"]["name"]]
    assert found[0] is None
    assert found[1]["labels"] == "linux,self-hosted,x64"


def test_gitlab_documented_pipeline_keeps_each_jobs_runner_and_wait(
    client: TestClient, org: Hooked
) -> None:
    """GitLab's Pipeline Hook example: three jobs waited 196 s on shared runner 380987 with
    their own tags; the skipped and created jobs ran nowhere."""
    body = real_fixture("gitlab-docs.pipeline-event.json")
    assert post_gitlab(client, org.name, "Pipeline Hook", body).is_success
    found = waits(only_detail(client, org))
    shared = {"name": "shared-runners-manager-6.gitlab.com", "group": None, "id": "380987"}
    assert found["test-image"] == (196.0, {**shared, "labels": "docker,linux,shared-runner"})
    assert found["test-build"] == (196.0, {**shared, "labels": "docker,linux"})
    assert found["production"] == (None, None)
    assert found["staging"] == (None, None)


def test_gitlab_pipeline_queue_time_is_the_attempts(client: TestClient, org: Hooked) -> None:
    body = real_fixture("gitlab-docs.pipeline-event.json")
    body["object_attributes"]["queued_duration"] = 12
    assert post_gitlab(client, org.name, "Pipeline Hook", body).is_success
    assert only_detail(client, org)["queue_seconds"] == 12.0


def test_gitlab_job_hook_names_its_runner(client: TestClient, org: Hooked) -> None:
    """go-gitlab's Job Hook: runner 380987 tagged linux and docker; queued, not started."""
    pipeline = real_fixture("gitlab-docs.pipeline-event.json")
    job = real_fixture("gitlab-go-gitlab-testdata.build.json")
    pipeline["object_attributes"]["id"] = job["pipeline_id"]
    pipeline["builds"] = []
    assert post_gitlab(client, org.name, "Pipeline Hook", pipeline).is_success
    job.update(build_queued_duration=42.5)
    assert post_gitlab(client, org.name, "Job Hook", job).is_success
    (found,) = waits(only_detail(client, org)).values()
    assert found == (
        42.5,
        {
            "labels": "docker,linux",
            "name": "shared-runners-manager-6.gitlab.com",
            "group": None,
            "id": "380987",
        },
    )


def test_jenkins_plugin_init_ms_is_the_runs_queue_time(
    client: TestClient, org: Hooked, ingest_key: str
) -> None:
    """The plugin's ``Mapper`` sends ``init_ms`` (queued to started) on a run's event."""
    request = real_fixture(JENKINS)
    event = request["events"][0]
    del event["parent"]
    event["payload"]["metrics"].append({"k": "init_ms", "v": 2500})
    event["payload"]["tags"].append({"k": "label", "v": "linux, docker"})
    headers = {"x-api-token": ingest_key}
    response = client.post("/v1/metrics/trackEvents", json=request, headers=headers)
    assert response.status_code == 200, response.text
    assert only_detail(client, org, **EPOCH)["queue_seconds"] == 2.5


def test_trunk_negative_queue_metric_is_unknown_with_a_warning(
    client: TestClient, org: Hooked, ingest_key: str
) -> None:
    request = real_fixture(JENKINS)
    event = request["events"][0]
    del event["parent"]
    event["payload"]["metrics"].append({"k": "init_ms", "v": -5})
    headers = {"x-api-token": ingest_key}
    response = client.post("/v1/metrics/trackEvents", json=request, headers=headers)
    assert response.status_code == 200, response.text
    assert "events[0].payload.metrics.init_ms" in " ".join(response.json()["warnings"])
    assert only_detail(client, org, **EPOCH)["queue_seconds"] is None


def test_runwatch_extension_fields_name_the_wait_and_runner(
    client: TestClient, org: Hooked, ingest_key: str
) -> None:
    payload = runwatch_run(queued_seconds=30)
    first, second = payload["jobs"][0], dict(payload["jobs"][0])
    second["name"] = "second"
    payload["jobs"] = [first, second]
    first.update(
        queued_seconds=12.5,
        runner_labels=["self-hosted", "gpu"],
        runner_name="gpu-3",
        runner_group="gpus",
        runner_id=3,
    )
    second.update(created_at="2025-12-31T23:59:00Z", runner_labels="linux")
    second["started_at"] = second.get("started_at") or "2026-01-01T00:00:00Z"
    response = client.post("/api/v1/ingest", json=payload, headers={"X-API-Key": ingest_key})
    assert response.status_code == 200, response.text
    detail = only_detail(client, org, since="2016-01-01T00:00:00Z", until="2026-01-01T00:00:00Z")
    assert detail["queue_seconds"] == 30.0
    found = waits(detail)
    assert found[first["name"]] == (
        12.5,
        {"labels": "gpu,self-hosted", "name": "gpu-3", "group": "gpus", "id": "3"},
    )
    assert found["second"][1] == {"labels": "linux", "name": None, "group": None, "id": None}


def test_runwatch_bad_runner_fields_are_named_at_once(
    client: TestClient, org: Hooked, ingest_key: str
) -> None:
    payload = runwatch_run()
    payload["jobs"][0].update(runner_labels={"a": 1}, queued_seconds="soon", runner_name=[1])
    response = client.post("/api/v1/ingest", json=payload, headers={"X-API-Key": ingest_key})
    assert response.status_code == 400
    error = response.json()["error"]
    for field in ("runner_labels", "queued_seconds", "runner_name"):
        assert f"jobs[0].{field}" in error, error


def test_upgrading_copies_the_wait_and_runner_webhook_jobs_kept(
    client: TestClient, org: Hooked, database: Database
) -> None:
    """Jobs stored before migration 0022 kept the queue time as a metric and the runner as
    tags: the migration copies them, label sets written as ``label_set`` writes them."""
    from alembic import command

    from cipulse.storage.migrate import alembic_config, migrate

    body = real_fixture(GITHUB_JOB)
    body["workflow_job"]["labels"] = ["x64", " self-hosted", "linux", "x64"]
    post_github_job(client, org, body)
    gitlab = real_fixture("gitlab-docs.pipeline-event.json")
    gitlab["object_attributes"]["queued_duration"] = 7
    assert post_gitlab(client, org.name, "Pipeline Hook", gitlab).is_success
    before = {(job["name"], *_facts(job)) for job in rows(database, "jobs")}
    runs_before = {
        run["source_format"]: run["queue_seconds"] for run in rows(database, "run_attempts")
    }
    config = alembic_config()
    with database.write() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0017")
    migrate(database)
    after = {(job["name"], *_facts(job)) for job in rows(database, "jobs")}
    assert after == before
    assert (body["workflow_job"]["name"], 60.0, "linux,self-hosted,x64", "GitHub Actions 5",
            "GitHub Actions") in after  # fmt: skip
    assert ("test-build", 196.0, "docker,linux", "shared-runners-manager-6.gitlab.com",
            None) in after  # fmt: skip
    runs_after = {
        run["source_format"]: run["queue_seconds"] for run in rows(database, "run_attempts")
    }
    assert runs_after == runs_before == {"github": None, "gitlab": 7.0}


def _facts(job: dict[str, Any]) -> tuple[Any, ...]:
    """The wait and runner of a stored job; the id, which no tag kept, left out."""
    return (job["queue_seconds"], job["runner_labels"], job["runner_name"], job["runner_group"])


def test_every_sources_queue_time_counts_in_the_jobs_mean_queue(
    client: TestClient, org: Hooked, ingest_key: str
) -> None:
    """The jobs' queue figures (docs/metrics.md): RunWatch's ``queued_seconds`` counts like
    the webhooks' queue time; a job that says none is left out. By hand: build waited 10 s
    in run 1 and 30 s in run 2 (mean 20, total 40); lint said nothing."""
    for run_id, queued in ((1, 10), (2, 30)):
        payload = runwatch_run(run_id=run_id)
        build, lint = payload["jobs"][0], dict(payload["jobs"][0])
        build.update(name="build", queued_seconds=queued)
        lint.update(name="lint")
        payload["jobs"] = [build, lint]
        response = client.post("/api/v1/ingest", json=payload, headers={"X-API-Key": ingest_key})
        assert response.status_code == 200, response.text
    jobs = read(client, org, "/api/v1/analytics/jobs", **WINDOW)["items"]
    queue = ("mean_queue_seconds", "p50_queue_seconds", "p95_queue_seconds", "total_queue_seconds")
    assert {job["job"]: tuple(job[name] for name in queue) for job in jobs} == {
        "build": (20.0, 10.0, 30.0, 40.0),  # nearest rank: p50 is the 1st of 2, p95 the 2nd
        "lint": (None, None, None, None),  # unknown, not 0
    }


def test_waits_add_up_every_jobs_queue_time_against_before(
    client: TestClient, org: Hooked, ingest_key: str, database: Database
) -> None:
    """``/analytics/waits`` by hand: this window, build waited 10 s and 30 s and lint 20 s
    (3 waits: p50 20, p95 30, total 60); a job that says nothing is left out of the waits
    but its running time counts: build ran 50 s and 60 s, lint 40 s, docs 30 s (180 s), so
    the share waiting is 60 / (60 + 180) = 0.25. The week before, one wait of 40 s and 40 s
    running: p50 -50 %, total +50 %, share 0.5 (-0.25 points). The same before and after
    the rollups are refreshed. The overview shows the cards."""
    from cipulse.accounts.users import UserService
    from cipulse.analytics.refresh import refresh_all
    from tests.test_dashboard import PASSWORD, sign_in

    def post(run_id: int, started: str, waits: dict[str, tuple[float | None, int]]) -> None:
        payload = runwatch_run(run_id=run_id, started_at=started, completed_at=None)
        payload["status"] = "success"
        payload["jobs"] = [
            {
                "name": name,
                "status": "success",
                "started_at": started,
                "completed_at": started.replace("10:00:00", f"10:{ran // 60:02d}:{ran % 60:02d}"),
                **({} if wait is None else {"queued_seconds": wait}),
            }
            for name, (wait, ran) in waits.items()
        ]
        response = client.post("/api/v1/ingest", json=payload, headers={"X-API-Key": ingest_key})
        assert response.status_code == 200, response.text

    post(1, "2025-06-10T10:00:00Z", {"build": (10, 50), "lint": (20, 40), "docs": (None, 30)})
    post(2, "2025-06-11T10:00:00Z", {"build": (30, 60)})
    post(3, "2025-06-03T10:00:00Z", {"build": (40, 40)})
    window = {"since": "2025-06-08T00:00:00Z", "until": "2025-06-15T00:00:00Z"}
    for refreshed in (False, True):
        if refreshed:
            refresh_all(database)
        found = read(client, org, "/api/v1/analytics/waits", **window)
        figures = ("waited_jobs", "p50_queue_seconds", "p95_queue_seconds", "total_queue_seconds")
        assert [found[name] for name in figures] == [3, 20.0, 30.0, 60.0]
        assert found["mean_queue_seconds"] == 20.0
        assert (found["running_seconds"], found["waiting_share"]) == (180.0, 0.25)
        assert [found["previous"][name] for name in figures] == [1, 40.0, 40.0, 40.0]
        assert (found["previous"]["running_seconds"], found["previous"]["waiting_share"]) == (
            40.0,
            0.5,
        )
        assert found["changes"]["p50_queue_seconds"]["change"] == -0.5
        assert found["changes"]["total_queue_seconds"]["change"] == 0.5
        assert found["changes"]["waited_jobs"]["change"] == 2.0
        assert found["changes"]["waiting_share"] == {
            "kind": "difference",
            "change": -0.25,
            "reason": None,
        }
    # Cut within a day: the raw part's jobs (run 1's) by hand.
    cut = read(
        client,
        org,
        "/api/v1/analytics/waits",
        since="2025-06-10T09:00:00Z",
        until="2025-06-10T12:00:00Z",
    )
    assert (cut["total_queue_seconds"], cut["running_seconds"]) == (30.0, 120.0)
    assert cut["waiting_share"] == 0.2
    UserService(database).create_user("ada@example.com", org.name, PASSWORD)
    assert sign_in(client, "ada@example.com").status_code == 303
    page = client.get("/", params={"since": "2025-06-08", "until": "2025-06-14"}).text
    assert 'aria-label="Waiting for runners"' in page
    assert 'data-metric="p50_queue_seconds"' in page and 'data-metric="total_queue_seconds"' in page
    assert 'data-metric="waiting_share"' in page and "25.0%" in page
