"""The run page's triage (``GET /api/v1/runs/{id}``'s ``triage`` and the dashboard's run
page): whether a run turned its default branch red, its previous green run, what changed
since, and each job's usual duration, worked out by hand on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import html
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from cipulse.accounts.service import AccountService
from cipulse.accounts.webhooks import WebhookService
from cipulse.domain.model import WebhookProvider
from cipulse.storage.database import Database
from tests.builders import real_fixture, runwatch_run
from tests.conftest import Tenant
from tests.test_dashboard import signed_in, users
from tests.webhooks import GITHUB_SECRET, post_github

__all__ = ["signed_in", "users"]  # fixtures, used by name

WINDOW = {"since": "2024-01-01T00:00:00Z", "until": "2024-06-01T00:00:00Z"}


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def run(
    run_id: int,
    status: str,
    completed_at: str,
    jobs: dict[str, tuple[str, float]],
    branch: str = "main",
    **change: Any,
) -> dict[str, Any]:
    """A RunWatch run that ended at ``completed_at`` and started ten minutes before, its
    jobs (name: status, seconds) all starting with it, one after the other by name."""
    completed = datetime.fromisoformat(completed_at.replace("Z", "+00:00"))
    started = completed - timedelta(minutes=10)
    listed = []
    for offset, (name, (job_status, seconds)) in enumerate(sorted(jobs.items())):
        begin = started + timedelta(seconds=offset)
        end = begin + timedelta(seconds=seconds)
        listed.append(
            {
                "name": name,
                "status": job_status,
                "started_at": _iso(begin),
                "completed_at": _iso(end),
            }
        )
    return runwatch_run(
        run_id=run_id,
        status=status,
        started_at=_iso(started),
        completed_at=completed_at,
        duration_seconds=None,
        compute_seconds=None,
        branch=branch,
        jobs=listed,
        **change,
    )


def pr(number: int, title: str) -> dict[str, Any]:
    return {
        "pull_request_number": number,
        "pull_request_title": title,
        "pull_request_url": f"https://github.com/acme/cool-project/pull/{number}",
    }


OK = "success"
DATASET = [
    run(1, OK, "2024-03-01T10:00:00Z", {"build": (OK, 60), "test": (OK, 100)}, commit_sha="a1" * 4),
    run(2, OK, "2024-03-02T10:00:00Z", {"build": (OK, 80), "test": (OK, 120)}, commit_sha="a2" * 4),
    run(3, "cancelled", "2024-03-03T10:00:00Z", {}, commit_sha="a3" * 4),
    # The previous green run of runs 6 and 7.
    run(4, OK, "2024-03-04T10:00:00Z", {"build": (OK, 70), "test": (OK, 110)}, commit_sha="a4" * 4),
    run(
        5,
        "cancelled",
        "2024-03-05T08:00:00Z",
        {"build": (OK, 50), "test": ("cancelled", 5)},
        commit_sha="c5" * 4,
        commit_message="Parse faster",
        commit_author="Ada",
        **pr(6, "Faster parser"),
    ),
    # Turns main red: the outcome before it (run 4) passed.
    run(
        6,
        "failure",
        "2024-03-05T10:00:00Z",
        {"build": (OK, 90), "test": ("failure", 300)},
        commit_sha="c6" * 4,
        commit_message="Bump the parser",
        commit_author="Grace",
        **pr(7, "Bump parser"),
    ),
    # Still red: the outcome before it (run 6) failed.
    run(7, "failure", "2024-03-06T10:00:00Z", {"build": (OK, 60)}, commit_sha="c7" * 4),
    # Another branch: never "turned red", but its usual durations are its own branch's.
    run(8, OK, "2024-03-05T11:00:00Z", {"build": (OK, 40)}, branch="dev"),
    run(9, "failure", "2024-03-05T12:00:00Z", {"build": (OK, 30)}, branch="dev"),
    # A pipeline whose first run failed: no green run before it.
    run(
        10,
        "failure",
        "2024-03-05T12:00:00Z",
        {"build": ("failure", 10)},
        pipeline_name="nightly",
        run_url=None,
        commit_sha="d1" * 4,
        commit_message="<script>alert(1)</script>" + "x" * 900,
    ),
]


@pytest.fixture
def reader(accounts: AccountService, tenant: Tenant) -> Tenant:
    return Tenant(name="acme", key=accounts.create_key("acme", scopes=("read",)).key)


@pytest.fixture
def ids(client: TestClient, tenant: Tenant, reader: Tenant) -> dict[tuple[str, int], str]:
    """The attempt id of each (pipeline, run id)."""
    for payload in DATASET:
        response = client.post(
            "/functions/v1/ingest", json=payload, headers=tenant.runwatch_headers
        )
        assert response.status_code == 200, response.text
    items = get(client, reader, "/api/v1/runs", limit=100, **WINDOW)["items"]
    return {(item["pipeline"], int(item["run_key"])): item["id"] for item in items}


def get(client: TestClient, reader: Tenant, path: str, **params: Any) -> Any:
    response = client.get(path, params=params, headers={"X-API-Key": reader.key})
    assert response.status_code == 200, response.text
    return response.json()


def triage_of(client: TestClient, reader: Tenant, attempt_id: str) -> dict[str, Any]:
    return get(client, reader, f"/api/v1/runs/{attempt_id}")["triage"]  # type: ignore[no-any-return]


PIPELINE = runwatch_run()["pipeline_name"]


def test_the_run_that_turned_main_red(
    client: TestClient, reader: Tenant, ids: dict[tuple[str, int], str]
) -> None:
    triage = triage_of(client, reader, ids[(PIPELINE, 6)])
    assert (triage["verdict"], triage["turned_red"], triage["on_default_branch"]) == (
        "turned_red",
        True,
        True,
    )
    green = triage["previous_green"]
    assert (green["id"], green["run_key"], green["commit_sha"]) == (
        ids[(PIPELINE, 4)],
        "4",
        "a4" * 4,
    )
    assert green["completed_at"] == "2024-03-04T10:00:00Z"
    changes = triage["changes"]
    # Runs 5 (cancelled) and 6 ended after run 4; newest first.
    assert changes["runs"] == 2
    assert [(c["sha"], c["message"], c["author"], c["run_id"]) for c in changes["commits"]] == [
        ("c6" * 4, "Bump the parser", "Grace", ids[(PIPELINE, 6)]),
        ("c5" * 4, "Parse faster", "Ada", ids[(PIPELINE, 5)]),
    ]
    # The run's own page is https://github.com/acme/cool-project/…: its commits are there.
    assert changes["commits"][0]["url"] == "https://github.com/acme/cool-project/commit/" + "c6" * 4
    assert [(p["number"], p["title"], p["url"]) for p in changes["pull_requests"]] == [
        (7, "Bump parser", "https://github.com/acme/cool-project/pull/7"),
        (6, "Faster parser", "https://github.com/acme/cool-project/pull/6"),
    ]
    assert (changes["more_commits"], changes["more_pull_requests"]) == (0, 0)
    assert [(j["name"], j["failing_step"], j["failure_class"]) for j in triage["failing_jobs"]] == [
        ("test", None, "code")
    ]
    # The same red period the recovery figures see: main red since run 6 ended.
    recovery = get(client, reader, "/api/v1/analytics/recovery", branch="main", **WINDOW)
    red_since = {(p["pipeline"], p["red_since"]) for p in recovery["red_at_end"]}
    assert (PIPELINE, "2024-03-05T10:00:00Z") in red_since


def test_usual_durations_worked_out_by_hand(
    client: TestClient, reader: Tenant, ids: dict[tuple[str, int], str]
) -> None:
    """Run 6 started 2024-03-05 09:50. Successful builds on main in the 30 days before:
    60, 80, 70 and 50 (run 5's, a cancelled run) → rank ⌈0.5·4⌉ = 2 of 50, 60, 70, 80: 60.
    Tests: 100, 120, 110 → rank 2: 110 (run 5's test was cancelled)."""
    jobs = {j["name"]: j for j in triage_of(client, reader, ids[(PIPELINE, 6)])["jobs"]}
    assert (jobs["build"]["usual_duration_seconds"], jobs["build"]["usual_sample"]) == (60, 4)
    assert jobs["build"]["duration_seconds"] == 90
    assert jobs["build"]["change"] == pytest.approx(0.5)
    assert (jobs["test"]["usual_duration_seconds"], jobs["test"]["usual_sample"]) == (110, 3)
    assert jobs["test"]["change"] == pytest.approx(300 / 110 - 1)


def test_still_red_names_the_last_green_run_and_every_change_since(
    client: TestClient, reader: Tenant, ids: dict[tuple[str, int], str]
) -> None:
    triage = triage_of(client, reader, ids[(PIPELINE, 7)])
    assert (triage["verdict"], triage["turned_red"]) == ("still_red", False)
    assert triage["previous_green"]["id"] == ids[(PIPELINE, 4)]
    assert triage["changes"]["runs"] == 3
    assert [c["sha"] for c in triage["changes"]["commits"]] == ["c7" * 4, "c6" * 4, "c5" * 4]
    # Builds before 2024-03-06 09:50: 60, 80, 70, 50, 90 → 50 60 70 80 90, rank 3: 70.
    (build,) = triage["jobs"]
    assert (build["usual_duration_seconds"], build["usual_sample"]) == (70, 5)
    assert build["change"] == pytest.approx(60 / 70 - 1)


def test_another_branch_is_never_turned_red_but_has_usual_durations(
    client: TestClient, reader: Tenant, ids: dict[tuple[str, int], str]
) -> None:
    triage = triage_of(client, reader, ids[(PIPELINE, 9)])
    assert (triage["verdict"], triage["on_default_branch"]) == ("not_default_branch", False)
    assert (triage["previous_green"], triage["changes"]) == (None, None)
    # Only dev's build (run 8, 40 s) counts, not main's.
    (build,) = triage["jobs"]
    assert (build["usual_duration_seconds"], build["usual_sample"]) == (40, 1)
    assert build["change"] == pytest.approx(30 / 40 - 1)


def test_a_first_run_that_failed_has_no_green_run_before_it(
    client: TestClient, reader: Tenant, ids: dict[tuple[str, int], str]
) -> None:
    triage = triage_of(client, reader, ids[("nightly", 10)])
    assert (triage["verdict"], triage["previous_green"]) == ("turned_red", None)
    assert triage["changes"]["runs"] == 1
    # No run URL says where the repository's pages are: no commit link is guessed.
    assert [(c["sha"], c["url"]) for c in triage["changes"]["commits"]] == [("d1" * 4, None)]
    (build,) = triage["jobs"]
    assert (build["usual_duration_seconds"], build["usual_sample"], build["change"]) == (
        None,
        0,
        None,
    )


def test_a_green_run_did_not_fail(
    client: TestClient, reader: Tenant, ids: dict[tuple[str, int], str]
) -> None:
    triage = triage_of(client, reader, ids[(PIPELINE, 4)])
    assert (triage["verdict"], triage["turned_red"], triage["previous_green"]) == (
        "not_failed",
        False,
        None,
    )
    assert triage["failing_jobs"] == []
    # Before 2024-03-04 09:50: builds 60, 80 → rank 1: 60.
    build = next(j for j in triage["jobs"] if j["name"] == "build")
    assert (build["usual_duration_seconds"], build["usual_sample"]) == (60, 2)


def test_the_run_page_shows_the_triage(
    signed_in: TestClient, ids: dict[tuple[str, int], str]
) -> None:
    page = signed_in.get(f"/runs/{ids[(PIPELINE, 6)]}").text
    assert 'data-verdict="turned_red"' in page
    assert 'turned <span class="mono">main</span> red' in page
    assert f'href="/runs/{ids[(PIPELINE, 4)]}"' in page
    assert "Bump the parser" in page and "Grace" in page
    assert 'href="https://github.com/acme/cool-project/pull/7"' in page
    assert "+50% vs usual" in page and "+173% vs usual" in page
    nightly = signed_in.get(f"/runs/{ids[('nightly', 10)]}").text
    assert "No earlier green run" in nightly
    # The huge message is escaped, and cut to 100 characters (the whole first line is in
    # the API answer, and the cell's title holds up to 500).
    assert "<script>alert(1)</script>" not in nightly
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in nightly
    cell = nightly.split('data-commit="' + "d1" * 4)[1].split("</td>")[1]
    shown = html.unescape(cell.rsplit(">", 1)[1])
    assert shown == "<script>alert(1)</script>" + "x" * 72 + "..."


def test_a_long_red_streak_lists_fifty_commits_and_counts_the_rest(
    client: TestClient, tenant: Tenant, reader: Tenant
) -> None:
    """One green run, then 53 failed runs of as many commits: the last lists the 50 newest
    and counts 3 more."""
    start = datetime(2024, 4, 1, 12, tzinfo=UTC)
    streak = [run(100, OK, _iso(start), {}, pipeline_name="bound")] + [
        run(
            100 + i,
            "failure",
            _iso(start + timedelta(minutes=i)),
            {},
            pipeline_name="bound",
            commit_sha=f"{i:08x}",
        )
        for i in range(1, 54)
    ]
    for payload in streak:
        assert client.post(
            "/functions/v1/ingest", json=payload, headers=tenant.runwatch_headers
        ).is_success
    items = get(client, reader, "/api/v1/runs", limit=1, pipeline="bound", **WINDOW)["items"]
    triage = triage_of(client, reader, items[0]["id"])
    assert triage["verdict"] == "still_red"
    assert triage["previous_green"]["run_key"] == "100"
    changes = triage["changes"]
    assert (changes["runs"], len(changes["commits"]), changes["more_commits"]) == (53, 50, 3)
    assert changes["commits"][0]["sha"] == f"{53:08x}"
    assert changes["commits"][-1]["sha"] == f"{4:08x}"


def test_a_success_and_a_failure_of_one_instant_end_red(
    client: TestClient, tenant: Tenant, reader: Tenant
) -> None:
    """As the red periods take them: successes first, so the failure turned the branch red
    and the success of the same millisecond is its previous green run."""
    same = "2024-04-02T12:00:00Z"
    for payload in (
        run(201, "failure", same, {}, pipeline_name="tie"),
        run(202, OK, same, {}, pipeline_name="tie"),
    ):
        assert client.post(
            "/functions/v1/ingest", json=payload, headers=tenant.runwatch_headers
        ).is_success
    items = get(client, reader, "/api/v1/runs", pipeline="tie", **WINDOW)["items"]
    failed = next(item["id"] for item in items if item["status"] == "failure")
    triage = triage_of(client, reader, failed)
    assert (triage["verdict"], triage["previous_green"]["run_key"]) == ("turned_red", "202")


# --- A real payload: GitHub's workflow_run, green then red, through the webhook ------------


def red_from_green(green: dict[str, Any]) -> dict[str, Any]:
    """The next run of the same workflow on the same branch, failed, for another commit
    (octokit's recorded run 163, with what a later run changes)."""
    red = copy.deepcopy(green)
    run = red["workflow_run"]
    sha = "9f" * 20
    run.update(
        id=run["id"] + 1,
        run_number=run["run_number"] + 1,
        conclusion="failure",
        head_sha=sha,
        created_at="2020-10-05T17:00:00Z",
        run_started_at="2020-10-05T17:00:00Z",
        updated_at="2020-10-05T17:04:00Z",
        html_url=run["html_url"].replace(str(run["id"] - 1), str(run["id"])),
    )
    run["head_commit"].update(
        id=sha, message="Drop the old parser\n\nIt was slow.", author={"name": "Linus Q"}
    )
    return red


def test_a_github_run_that_turned_master_red_names_the_green_run_and_the_commit(
    signed_in: TestClient, tenant: Tenant, reader: Tenant, database: Database
) -> None:
    WebhookService(database).set_secret(tenant.name, WebhookProvider.GITHUB, GITHUB_SECRET)
    green = real_fixture("github-workflow_run.completed.json")
    red = red_from_green(real_fixture("github-workflow_run.completed.with-pull-requests.json"))
    for payload in (green, red):
        response = post_github(signed_in, tenant.name, "workflow_run", payload)
        assert response.status_code in {200, 202}, response.text
    items = get(signed_in, reader, "/api/v1/runs", since="2020-10-01T00:00:00Z")["items"]
    by_number = {item["run_number"]: item["id"] for item in items}
    triage = triage_of(signed_in, reader, by_number[164])
    assert (triage["verdict"], triage["on_default_branch"]) == ("turned_red", True)
    assert (triage["previous_green"]["id"], triage["previous_green"]["run_number"]) == (
        by_number[163],
        163,
    )
    assert [
        (c["sha"], c["message"], c["author"], c["url"]) for c in triage["changes"]["commits"]
    ] == [
        (
            "9f" * 20,
            "Drop the old parser",
            "Linus Q",
            "https://github.com/octo-org/octo-repo/commit/" + "9f" * 20,
        )
    ]
    assert [p["number"] for p in triage["changes"]["pull_requests"]] == [2]
    page = signed_in.get(f"/runs/{by_number[164]}").text
    assert 'data-verdict="turned_red"' in page
    assert f'href="/runs/{by_number[163]}"' in page and "#163" in page
    assert "Drop the old parser" in page and "Linus Q" in page
    assert 'href="https://github.com/octo-org/octo-repo/commit/' + "9f" * 20 + '"' in page
