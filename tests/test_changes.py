"""Commits, pull requests, authors and event kinds of run attempts, from the real payloads of
``tests/fixtures/real`` (octokit's workflow_run examples, GitLab's documented Pipeline Hook,
CIMonitor's recorded GitLab deliveries, the Jenkins plugin's events) and RunWatch's cipulse
extension fields, read back through the HTTP API on SQLite and PostgreSQL; the runs list's
filters by them, and their validation."""

from __future__ import annotations

import copy
import csv
import io
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cipulse.accounts.service import AccountService
from cipulse.storage.database import Database
from tests.builders import TRUNK_EXAMPLE, real_fixture, runwatch_run
from tests.conftest import rows
from tests.webhooks import Hooked, hooked_org, post_github, post_gitlab, read, sequence

WINDOW = {"since": "2016-01-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}
#: The Jenkins plugin's test event started 1 ms after the epoch.
EPOCH = {"since": "1970-01-01T00:00:00Z", "until": "1970-01-02T00:00:00Z"}
CHANGE_FIELDS = (
    "commit_sha",
    "commit_message",
    "commit_author",
    "pull_request_number",
    "pull_request_title",
    "pull_request_url",
    "pull_request_source_branch",
    "pull_request_target_branch",
    "event_kind",
)
GITHUB_WITH_PR = "github-workflow_run.completed.with-pull-requests.json"
GITLAB_DOCS = "gitlab-docs.pipeline-event.json"
JENKINS = "trunk-jenkins-plugin-1.4.0.trackEvents.TrackEventsRequestTest.json"


@pytest.fixture
def org(database: Database) -> Hooked:
    return hooked_org(database)


@pytest.fixture
def ingest_key(database: Database, org: Hooked) -> str:
    return AccountService(database).create_key(org.name, scopes=("ingest",)).key


def change(run: dict[str, Any]) -> dict[str, Any]:
    return {name: run[name] for name in CHANGE_FIELDS}


def only_run(client: TestClient, org: Hooked, **params: Any) -> dict[str, Any]:
    (item,) = read(client, org, "/api/v1/runs", **{**WINDOW, **params})["items"]
    detail = read(client, org, f"/api/v1/runs/{item['id']}")
    assert change(detail) == change(item)
    return item  # type: ignore[no-any-return]


def test_github_workflow_run_with_a_pull_request(client: TestClient, org: Hooked) -> None:
    """octokit's example: head_sha, head_commit and pull_requests[] (which name the pull
    request's API URL, not its page, nor its title); its event, repository_dispatch, is
    none of the named kinds."""
    assert post_github(client, org.name, "workflow_run", real_fixture(GITHUB_WITH_PR)).is_success
    assert change(only_run(client, org)) == {
        "commit_sha": "3484a3fb816e0859fd6e1cea078d76385ff50625",
        "commit_message": "build(test): check workflow run event payload",
        "commit_author": "Matthias Fax",
        "pull_request_number": 2,
        "pull_request_title": None,
        "pull_request_url": "https://github.com/Codertocat/Hello-World/pull/2",
        "pull_request_source_branch": "changes",
        "pull_request_target_branch": "master",
        "event_kind": "other",
    }


def test_github_push_without_a_pull_request(client: TestClient, org: Hooked) -> None:
    payload = real_fixture("github-workflow_run.completed.json")
    payload["workflow_run"]["event"] = "push"  # the example's own is repository_dispatch
    assert post_github(client, org.name, "workflow_run", payload).is_success
    run = only_run(client, org)
    assert (run["commit_sha"], run["commit_author"], run["event_kind"]) == (
        "3484a3fb816e0859fd6e1cea078d76385ff50625",
        "Matthias Fax",
        "push",
    )
    assert [run[name] for name in CHANGE_FIELDS if name.startswith("pull_request")] == [None] * 5


def test_gitlab_pipeline_of_a_merge_request(client: TestClient, org: Hooked) -> None:
    """GitLab's documented Pipeline Hook: merge_request and commit; the author's e-mail,
    which the payload carries, is not stored."""
    assert post_gitlab(client, org.name, "Pipeline Hook", real_fixture(GITLAB_DOCS)).is_success
    assert change(only_run(client, org)) == {
        "commit_sha": "bcbb5ec396a2c0f828686f14fac9b80b780504f2",
        "commit_message": "test",
        "commit_author": "User",
        "pull_request_number": 1,
        "pull_request_title": "Test",
        "pull_request_url": "http://192.168.64.1:3005/gitlab-org/gitlab-test/merge_requests/1",
        "pull_request_source_branch": "test",
        "pull_request_target_branch": "master",
        "event_kind": "pull_request",
    }


def test_gitlab_recorded_deliveries_keep_the_change_of_every_attempt(
    client: TestClient, org: Hooked, database: Database
) -> None:
    """CIMonitor's recorded pipeline, started from the web UI: no merge request."""
    for delivery in sequence("gitlab-pipeline"):
        response = post_gitlab(client, org.name, delivery.event, delivery.body)
        assert response.is_success, response.text
    items = read(client, org, "/api/v1/runs", **WINDOW)["items"]
    assert items
    for item in items:
        assert item["event_kind"] == "other"
        assert item["commit_author"] == "Rick van der Staaij"
        assert item["pull_request_number"] is None
        assert len(item["commit_sha"]) == 40
    assert "[REDACTED]" not in str(rows(database, "run_attempts"))  # the e-mail as recorded


def test_jenkins_plugin_events_name_no_change(
    client: TestClient, org: Hooked, ingest_key: str
) -> None:
    """The Jenkins plugin 1.4.0 sends no commit (its tags are title, url, type, build and
    path): every field is unknown (null), never ''."""
    request = real_fixture(JENKINS)
    del request["events"][0]["parent"]  # its one event, made the run of its chain
    headers = {"x-api-token": ingest_key}
    response = client.post("/v1/metrics/trackEvents", json=request, headers=headers)
    assert response.status_code == 200, response.text
    assert change(only_run(client, org, **EPOCH)) == dict.fromkeys(CHANGE_FIELDS)


def test_trunk_spec_example_names_its_commit(
    client: TestClient, org: Hooked, ingest_key: str
) -> None:
    """The Trunk spec's example tags its runs (a pipeline and the one nested in it) with
    ``sha`` (and ``branch``)."""
    headers = {"x-api-token": ingest_key}
    response = client.post("/v1/metrics/trackEvents", json=TRUNK_EXAMPLE, headers=headers)
    assert response.status_code == 200, response.text
    runs = read(client, org, "/api/v1/runs", **WINDOW)["items"]
    assert (
        sorted((run["commit_sha"], run["branch"]) for run in runs)
        == [("88962a71bcfa92e5950670fc7e3f2b9f8d993b87", "merge-PR-1")] * 2
    )
    assert all(run["commit_author"] is None and run["event_kind"] is None for run in runs)


def test_trunk_run_tags_name_the_change(client: TestClient, org: Hooked, ingest_key: str) -> None:
    """The plugin's event with the tags a script may add: ``sha`` and the RunWatch names; a
    pull request number that is none is stored as unknown, with a warning."""
    request = real_fixture(JENKINS)
    event = request["events"][0]
    del event["parent"]  # the run event of its chain
    event["payload"]["tags"] += [
        {"k": "sha", "v": "ABC123DEF4"},
        {"k": "commit_author", "v": "Ada"},
        {"k": "pull_request_number", "v": "17"},
        {"k": "event", "v": "merge_group"},
    ]
    headers = {"x-api-token": ingest_key}
    response = client.post("/v1/metrics/trackEvents", json=request, headers=headers)
    assert response.status_code == 200, response.text
    run = only_run(client, org, **EPOCH)
    assert (run["commit_sha"], run["commit_author"], run["pull_request_number"]) == (
        "abc123def4",
        "Ada",
        17,
    )
    assert run["event_kind"] == "merge_queue"
    event["payload"]["tags"][-2] = {"k": "pull_request_number", "v": "seventeen"}
    event["payload"]["tags"][-4] = {"k": "sha", "v": "HEAD" * 100}
    again = client.post("/v1/metrics/trackEvents", json=request, headers=headers)
    assert again.status_code == 200
    warnings = str(again.json()["warnings"])
    assert "events[0].payload.tags.pull_request_number: 'seventeen'" in warnings
    assert "events[0].payload.tags.sha: 'HEADHEAD" in warnings
    run = only_run(client, org, **EPOCH)
    assert (run["pull_request_number"], run["commit_sha"]) == (None, None)


EXTENSIONS: dict[str, Any] = {
    "commit_sha": "0123456789ABCDEF0123456789abcdef01234567",
    "commit_message": "Speed up the cache\n\nIt was slow.",
    "commit_author": "Grace Hopper",
    "pull_request_number": 42,
    "pull_request_title": "Faster cache",
    "pull_request_url": "https://github.com/acme/cool-project/pull/42",
    "pull_request_source_branch": "faster-cache",
    "pull_request_target_branch": "main",
    "event": "pull_request_target",
}


def test_runwatch_extension_fields_round_trip(
    client: TestClient, org: Hooked, ingest_key: str
) -> None:
    headers = {"X-API-Key": ingest_key}
    response = client.post("/api/v1/ingest", json=runwatch_run(**EXTENSIONS), headers=headers)
    assert response.status_code == 200, response.text
    assert change(only_run(client, org)) == {
        **{k: v for k, v in EXTENSIONS.items() if k != "event"},
        "commit_sha": EXTENSIONS["commit_sha"].lower(),
        "commit_message": "Speed up the cache",
        "event_kind": "pull_request",
    }


def test_runwatch_without_extensions_reads_the_kind_from_triggered_by(
    client: TestClient, org: Hooked, ingest_key: str
) -> None:
    headers = {"X-API-Key": ingest_key}
    for run_id, triggered_by in ((1, "schedule"), (2, "a person")):
        payload = runwatch_run(run_id=run_id, triggered_by=triggered_by, commit_sha="")
        assert client.post("/api/v1/ingest", json=payload, headers=headers).status_code == 200
    items = read(client, org, "/api/v1/runs", **WINDOW)["items"]
    assert sorted((item["run_key"], item["event_kind"]) for item in items) == [
        ("1", "schedule"),
        ("2", None),
    ]
    assert all(item["commit_sha"] is None for item in items)


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"pull_request_number": "forty-two"}, "pull_request_number: must be an integer"),
        ({"pull_request_number": True}, "pull_request_number: must be an integer"),
        ({"pull_request_number": 0}, "pull_request_number: must be >= 1"),
        ({"commit_sha": 1234567}, "commit_sha: must be a string"),
        ({"commit_author": {"name": "Ada"}}, "commit_author: must be a string"),
        ({"event": ["push"]}, "event: must be a string"),
    ],
)
def test_runwatch_extension_of_a_wrong_type_is_refused(
    client: TestClient, org: Hooked, ingest_key: str, database: Database, fields: Any, problem: str
) -> None:
    headers = {"X-API-Key": ingest_key}
    response = client.post("/api/v1/ingest", json=runwatch_run(**fields), headers=headers)
    assert response.status_code == 400
    assert problem in response.json()["error"]
    assert rows(database, "run_attempts") == []


def test_runwatch_commit_sha_that_is_no_sha_is_kept_unknown_with_a_warning(
    client: TestClient, org: Hooked, ingest_key: str
) -> None:
    headers = {"X-API-Key": ingest_key}
    payload = runwatch_run(commit_sha="not a sha", extra_field={"ignored": True})
    response = client.post("/api/v1/ingest", json=payload, headers=headers)
    assert response.status_code == 200
    assert response.json()["warnings"] == [
        "commit_sha: 'not a sha' is not a commit SHA (4 to 64 hexadecimal digits); "
        "stored as unknown"
    ]
    assert only_run(client, org)["commit_sha"] is None


def _store_three(client: TestClient, org: Hooked, ingest_key: str) -> None:
    """A pull request's run (RunWatch), GitLab's merge request pipeline, a GitHub push."""
    headers = {"X-API-Key": ingest_key}
    response = client.post("/api/v1/ingest", json=runwatch_run(**EXTENSIONS), headers=headers)
    assert response.status_code == 200
    assert post_gitlab(client, org.name, "Pipeline Hook", real_fixture(GITLAB_DOCS)).is_success
    push = real_fixture("github-workflow_run.completed.json")
    push["workflow_run"]["event"] = "push"
    assert post_github(client, org.name, "workflow_run", push).is_success


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"commit": "0123456789abcdef"}, ["789012345"]),
        ({"commit": "BCBB5EC3"}, ["31"]),
        ({"commit": "3484"}, ["289782451"]),
        ({"commit": "ffff"}, []),
        ({"pull_request": "42"}, ["789012345"]),
        ({"pull_request": "!1"}, ["31"]),
        ({"author": "hopper"}, ["789012345"]),
        ({"author": "A"}, ["289782451", "789012345"]),
        ({"event_kind": "pull_request"}, ["31", "789012345"]),
        ({"event_kind": "push,tag"}, ["289782451"]),
        ({"branch_contains": "AST"}, ["289782451", "31"]),
        ({"branch_contains": "%"}, []),
        ({"author": "user", "event_kind": "pull_request"}, ["31"]),
    ],
)
def test_the_runs_list_filters_by_the_change(
    client: TestClient, org: Hooked, ingest_key: str, params: dict[str, str], expected: list[str]
) -> None:
    _store_three(client, org, ingest_key)
    items = read(client, org, "/api/v1/runs", **WINDOW, **params)["items"]
    assert sorted(item["run_key"] for item in items) == expected


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({"commit": "xyz1"}, "commit: must be a commit SHA or its start: 4 to 64 hexadecimal"),
        ({"commit": "abc"}, "commit: must be a commit SHA or its start"),
        ({"pull_request": "12a"}, "pull_request: must be a pull request number"),
        ({"pull_request": "0"}, "pull_request: must be a pull request number"),
        ({"event_kind": "push,merge"}, "event_kind: must be one of pull_request, merge_queue"),
    ],
)
def test_bad_filters_of_the_change_are_refused(
    client: TestClient, org: Hooked, params: dict[str, str], problem: str
) -> None:
    response = client.get(
        "/api/v1/runs", params={**WINDOW, **params}, headers={"X-API-Key": org.read_key}
    )
    assert response.status_code == 400
    assert problem in response.json()["error"]


def test_the_runs_csv_has_the_change_columns(
    client: TestClient, org: Hooked, ingest_key: str
) -> None:
    _store_three(client, org, ingest_key)
    response = client.get(
        "/api/v1/runs",
        params={**WINDOW, "format": "csv", "pull_request": "42"},
        headers={"X-API-Key": org.read_key},
    )
    assert response.status_code == 200
    (row,) = list(csv.DictReader(io.StringIO(response.text)))
    assert (row["commit_author"], row["pull_request_number"], row["event_kind"]) == (
        "Grace Hopper",
        "42",
        "pull_request",
    )
    assert row["commit_message"] == "Speed up the cache"


def test_upgrading_keeps_the_commit_of_stored_webhook_runs(
    client: TestClient, org: Hooked, database: Database
) -> None:
    """Attempts stored before migration 0016 kept the SHA as a tag: it is copied over."""
    from alembic import command

    from cipulse.storage.migrate import alembic_config, migrate

    payload = copy.deepcopy(real_fixture(GITHUB_WITH_PR))
    assert post_github(client, org.name, "workflow_run", payload).is_success
    config = alembic_config()
    with database.write() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0015")
    migrate(database)
    (stored,) = rows(database, "run_attempts")
    assert stored["commit_sha"] == "3484a3fb816e0859fd6e1cea078d76385ff50625"
    assert stored["commit_author"] is None  # not kept before: unknown
