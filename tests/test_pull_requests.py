"""Pull requests through the read API, on SQLite and PostgreSQL: each one's CI time, reruns
and time to green computed by hand; the organisation's p50 and p90 with the window before;
tenancy; ids refused with the field named; the real GitHub and GitLab payloads' pull
requests (``tests/fixtures/real``)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from cipulse.accounts.service import AccountService
from cipulse.storage.database import Database
from tests.builders import real_fixture, runwatch_run
from tests.webhooks import Hooked, hooked_org, post_github, post_gitlab, read

DAY = {"since": "2024-03-01T00:00:00Z", "until": "2024-03-02T00:00:00Z"}
WIDE = {"since": "2016-01-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}
REPOSITORY = "acme/shop"


def _run(
    run_id: int,
    attempt: int,
    status: str,
    start: str,
    end: str,
    seconds: float,
    compute: float,
    **change: Any,
) -> dict[str, Any]:
    return runwatch_run(
        repository=REPOSITORY,
        run_id=run_id,
        run_attempt=attempt,
        status=status,
        started_at=f"2024-03-01T{start}:00Z" if len(start) == 5 else start,
        completed_at=f"2024-03-01T{end}:00Z" if len(end) == 5 else end,
        duration_seconds=seconds,
        compute_seconds=compute,
        jobs=[],
        branch=change.get("pull_request_source_branch", "feature"),
        **change,
    )


def _pr(number: int, sha: str, author: str) -> dict[str, Any]:
    return {
        "pull_request_number": number,
        "pull_request_title": f"Change {number}",
        "pull_request_url": f"https://github.com/acme/shop/pull/{number}",
        "pull_request_source_branch": f"change-{number}",
        "pull_request_target_branch": "main",
        "commit_sha": sha,
        "commit_author": author,
        "commit_message": f"Commit {sha[:4]}",
        "event": "pull_request",
    }


#: PR 7: two head commits; the first fails then passes on a retry, the second fails then
#: passes in a new run, and passes once more. PR 8: failed once, never green.
#: PR 5: the day before, green at once (the compared window).
RUNS = [
    _run(1, 1, "failure", "10:00", "10:10", 600, 900, **_pr(7, "aaaa1111", "Ada")),
    _run(1, 2, "success", "10:15", "10:25", 600, 800, **_pr(7, "aaaa1111", "Ada")),
    _run(2, 1, "failure", "11:00", "11:05", 300, 400, **_pr(7, "bbbb2222", "Grace")),
    _run(3, 1, "success", "11:30", "11:40", 600, 700, **_pr(7, "bbbb2222", "Grace")),
    _run(4, 1, "success", "12:00", "12:10", 600, 650, **_pr(7, "bbbb2222", "Grace")),
    _run(5, 1, "failure", "13:00", "13:05", 300, 100, **_pr(8, "cccc3333", "Linus")),
    _run(
        6,
        1,
        "success",
        "2024-02-29T10:00:00Z",
        "2024-02-29T10:01:40Z",
        100,
        50,
        **_pr(5, "dddd4444", "Ada"),
    ),
]


@pytest.fixture
def org(database: Database) -> Hooked:
    return hooked_org(database)


def _store(client: TestClient, database: Database, org: str, runs: list[dict[str, Any]]) -> None:
    key = AccountService(database).create_key(org, scopes=("ingest",)).key
    for run in runs:
        response = client.post("/api/v1/ingest", json=run, headers={"X-API-Key": key})
        assert response.status_code == 200, response.text


@pytest.fixture
def stored(client: TestClient, database: Database, org: Hooked) -> Hooked:
    _store(client, database, org.name, RUNS)
    return org


def _figures(item: dict[str, Any]) -> dict[str, Any]:
    names = ("number", "runs", "attempts", "reruns", "ci_seconds", "compute_seconds")
    return {
        **{name: item[name] for name in names},
        "ttg_head": item["time_to_green_head_seconds"],
        "ttg": item["time_to_green_seconds"],
    }


def test_pull_requests_figures_by_hand(client: TestClient, stored: Hooked) -> None:
    items = read(client, stored, "/api/v1/pull-requests", **DAY)["items"]
    # The latest run first: PR 8's at 13:00, PR 7's at 12:00; PR 5 ran the day before.
    assert [_figures(item) for item in items] == [
        {
            "number": 8,
            "runs": 1,
            "attempts": 1,
            "reruns": 0,
            "ci_seconds": 300,
            "compute_seconds": 100,
            "ttg_head": None,  # never green: unknown, not 0
            "ttg": None,
        },
        {
            "number": 7,
            "runs": 4,
            "attempts": 5,
            "reruns": 1,
            "ci_seconds": 600 + 600 + 300 + 600 + 600,
            "compute_seconds": 900 + 800 + 400 + 700 + 650,
            "ttg_head": 40 * 60,  # bbbb2222: first run 11:00, first pass ended 11:40
            "ttg": 130 * 60,  # first run 10:00, last green ended 12:10
        },
    ]
    seven = items[1]
    assert seven["authors"] == "Ada, Grace"
    assert (seven["commits"], seven["head_commit_sha"]) == (2, "bbbb2222")
    assert (seven["title"], seven["source_branch"], seven["target_branch"]) == (
        "Change 7",
        "change-7",
        "main",
    )
    assert seven["url"] == "https://github.com/acme/shop/pull/7"
    assert seven["first_run_at"] == "2024-03-01T10:00:00Z"
    assert seven["repository"] == REPOSITORY
    ordered = read(client, stored, "/api/v1/pull-requests", sort="time_to_green_seconds", **DAY)
    assert [item["number"] for item in ordered["items"]] == [7, 8]  # unknown last
    by_cost = read(client, stored, "/api/v1/pull-requests", sort="-ci_seconds", **DAY)
    assert [item["number"] for item in by_cost["items"]] == [7, 8]


def test_one_pull_request_with_commits_and_runs_newest_first(
    client: TestClient, stored: Hooked
) -> None:
    (seven,) = read(client, stored, "/api/v1/pull-requests", pull_request="7", **DAY)["items"]
    detail = read(client, stored, f"/api/v1/pull-requests/{seven['id']}", limit=3)
    assert detail["authors"] == ["Ada", "Grace"]
    assert [c["sha"] for c in detail["commit_list"]] == ["aaaa1111", "bbbb2222"]
    assert detail["commit_list"][0]["message"] == "Commit aaaa"
    page = detail["runs_page"]
    assert [(r["run_key"], r["attempt"]) for r in page["items"]] == [("4", 1), ("3", 1), ("2", 1)]
    rest = read(client, stored, f"/api/v1/pull-requests/{seven['id']}", cursor=page["next_cursor"])[
        "runs_page"
    ]
    assert [(r["run_key"], r["attempt"]) for r in rest["items"]] == [("1", 2), ("1", 1)]
    assert rest["next_cursor"] is None
    assert detail["time_to_green_seconds"] == seven["time_to_green_seconds"]


def test_organisation_figures_with_the_window_before(client: TestClient, stored: Hooked) -> None:
    found = read(client, stored, "/api/v1/pull-requests/summary", **DAY)
    assert found["pull_requests"] == 2
    # CI time of PRs 8 and 7: [300, 2700]; nearest rank: p50 the 1st, p90 the 2nd.
    assert (found["ci_seconds_p50"], found["ci_seconds_p90"]) == (300, 2700)
    assert (found["time_to_green_head_seconds_p50"], found["time_to_green_seconds_p90"]) == (
        2400,
        7800,
    )
    previous = found["previous"]
    assert previous["window"] == {"since": "2024-02-29T00:00:00Z", "until": "2024-03-01T00:00:00Z"}
    assert (previous["pull_requests"], previous["ci_seconds_p50"]) == (1, 100)
    assert found["changes"]["ci_seconds_p50"] == {"kind": "relative", "change": 2.0, "reason": None}
    assert found["changes"]["time_to_green_seconds_p50"]["change"] == pytest.approx(77.0)
    empty = read(
        client,
        stored,
        "/api/v1/pull-requests/summary",
        since="2024-02-29T00:00:00Z",
        until="2024-02-29T01:00:00Z",
    )
    assert empty["ci_seconds_p50"] is None
    assert empty["changes"]["ci_seconds_p50"]["reason"] == "no_earlier_data"


def test_other_organisations_pull_requests_are_invisible(
    client: TestClient, database: Database, stored: Hooked
) -> None:
    other = hooked_org(database, "globex")
    _store(client, database, other.name, RUNS[:1])
    (mine,) = read(client, stored, "/api/v1/pull-requests", pull_request="7", **DAY)["items"]
    (theirs,) = read(client, other, "/api/v1/pull-requests", **DAY)["items"]
    assert theirs["runs"] == 1 and theirs["id"] != mine["id"]
    response = client.get(
        f"/api/v1/pull-requests/{mine['id']}", headers={"X-API-Key": other.read_key}
    )
    assert response.status_code == 404
    assert "number: no pull request 7" in response.json()["error"]


@pytest.mark.parametrize(
    ("path", "problems"),
    [
        ("not-a-uuid/7", ["repository_id: must be a repository id"]),
        ("00000000-0000-0000-0000-000000000001/seven", ["number: must be a pull request number"]),
        ("x/0", ["repository_id:", "number:"]),
    ],
)
def test_bad_pull_request_ids_are_400_naming_the_field(
    client: TestClient, stored: Hooked, path: str, problems: list[str]
) -> None:
    response = client.get(f"/api/v1/pull-requests/{path}", headers={"X-API-Key": stored.read_key})
    assert response.status_code == 400
    for problem in problems:
        assert problem in response.json()["error"]


def test_bad_list_parameters_are_400(client: TestClient, stored: Hooked) -> None:
    headers = {"X-API-Key": stored.read_key}
    for params, problem in (
        ({"sort": "colour"}, "sort: must be one of"),
        ({"limit": "0"}, "limit: must be from 1"),
        ({"pull_request": "x"}, "pull_request:"),
    ):
        response = client.get("/api/v1/pull-requests", params=params, headers=headers)
        assert response.status_code == 400, params
        assert problem in response.json()["error"]
    missing = client.get(
        "/api/v1/pull-requests/00000000-0000-0000-0000-000000000001/7", headers=headers
    )
    assert missing.status_code == 404


def test_real_github_and_gitlab_pull_requests(client: TestClient, org: Hooked) -> None:
    """octokit's workflow_run with pull_requests[] and GitLab's documented Pipeline Hook
    with its merge_request: each a pull request of one run."""
    github = real_fixture("github-workflow_run.completed.with-pull-requests.json")
    assert post_github(client, org.name, "workflow_run", github).is_success
    gitlab = real_fixture("gitlab-docs.pipeline-event.json")
    assert post_gitlab(client, org.name, "Pipeline Hook", gitlab).is_success
    items = read(client, org, "/api/v1/pull-requests", sort="number", **WIDE)["items"]
    runs = {
        run["pull_request_number"]: run
        for run in read(client, org, "/api/v1/runs", **WIDE)["items"]
    }
    assert [(i["number"], i["source_branch"], i["target_branch"], i["authors"]) for i in items] == [
        (1, "test", "master", "User"),
        (2, "changes", "master", "Matthias Fax"),
    ]
    for item in items:
        run = runs[item["number"]]
        assert (item["runs"], item["reruns"]) == (1, 0)
        assert item["ci_seconds"] == (run["duration_seconds"] or 0)
        assert item["url"] == run["pull_request_url"]
        green = run["status"] == "success"
        assert (item["time_to_green_seconds"] is not None) == green


def test_a_window_holds_the_pull_requests_whose_runs_span_reaches_into_it(
    client: TestClient, stored: Hooked
) -> None:
    """PR 7 ran from 10:00 to 12:00: a window from 10:30 to 10:40 holds it, though none of
    its attempts started then; with an author filter, an attempt in the window must pass it."""
    inside = {"since": "2024-03-01T10:30:00Z", "until": "2024-03-01T10:40:00Z"}
    items = read(client, stored, "/api/v1/pull-requests", **inside)["items"]
    assert [item["number"] for item in items] == [7]
    assert read(client, stored, "/api/v1/pull-requests", author="ada", **inside)["items"] == []
    at_ten = {"since": "2024-03-01T10:00:00Z", "until": "2024-03-01T10:01:00Z"}
    items = read(client, stored, "/api/v1/pull-requests", author="ada", **at_ten)["items"]
    assert [(item["number"], item["runs"]) for item in items] == [(7, 4)]  # all its runs
    after = {"since": "2024-03-01T13:01:00Z", "until": "2024-03-01T14:00:00Z"}
    assert read(client, stored, "/api/v1/pull-requests", **after)["items"] == []
    mine = read(client, stored, "/api/v1/pull-requests", repository="ACME/shop", **DAY)["items"]
    assert len(mine) == 2
    assert read(client, stored, "/api/v1/pull-requests", repository="acme/other", **DAY) == {
        "items": [],
        "next_cursor": None,
    }
    first = read(client, stored, "/api/v1/pull-requests", limit=1, **DAY)
    second = read(client, stored, "/api/v1/pull-requests", cursor=first["next_cursor"], **DAY)
    assert [i["number"] for i in first["items"] + second["items"]] == [8, 7]
    assert second["next_cursor"] is None
