"""Test figures over real HTTP, on SQLite and PostgreSQL: the test list, one test's page,
the flaky rules' evidence, and infrastructure-wide failures, against figures worked out
by hand from the results sent below."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from cipulse.accounts.service import AccountService
from cipulse.cli.main import cli
from cipulse.settings import Settings
from cipulse.storage.database import Database
from tests.builders import runwatch_run
from tests.conftest import Tenant, make_tenant, rows
from tests.servers import threaded_server

WINDOW = {"since": "2024-01-10T00:00:00Z", "until": "2024-01-20T00:00:00Z"}
REPO = "acme/cool-project"


def case(name: str, ms: int | None, body: str = "") -> str:
    time = "" if ms is None else f' time="{ms / 1000}"'
    return f'<testcase classname="tests.shop" name="{name}"{time}>{body}</testcase>'


FAIL = '<failure message="{}">trace of {}</failure>'
#: The runs: (run id, day of January 2024, commit, the test cases of its report).
RUNS: list[tuple[int, int, str, list[str]]] = [
    (
        1,
        15,
        "a" * 40,
        [
            case("test_a", 100),
            case("test_b", 200, FAIL.format("boom", "b")),
            case("test_c", 300, '<flakyFailure message="once"/>'),
            case("test_d", 50, FAIL.format("d broke", "d")),
        ],
    ),
    (
        2,
        16,
        "a" * 40,
        [
            case("test_a", 120),
            case("test_b", 220, FAIL.format("boom", "b")),
            case("test_c", 310),
            case("test_d", 60),
        ],
    ),
    (
        3,
        17,
        "b" * 40,
        [
            case("test_a", 140, FAIL.format("other", "a")),
            case("test_b", 240, FAIL.format("boom", "b")),
            case("test_c", None, "<skipped/>"),
            case("test_d", 70),
        ],
    ),
]


def report(cases: list[str]) -> bytes:
    return f'<testsuite name="shop">{"".join(cases)}</testsuite>'.encode()


@pytest.fixture
def served(settings: Settings) -> Iterator[str]:
    with threaded_server(settings) as base_url:
        yield base_url


@pytest.fixture
def reader(accounts: AccountService, tenant: Tenant) -> dict[str, str]:
    return {"X-API-Key": accounts.create_key("acme", scopes=("read",)).key}


def send_runs(served: str, tenant: Tenant) -> None:
    for run_id, day, sha, cases in RUNS:
        run = runwatch_run(
            run_id=run_id,
            commit_sha=sha,
            started_at=f"2024-01-{day}T10:00:00Z",
            completed_at=f"2024-01-{day}T10:05:00Z",
            jobs=None,
        )
        answer = httpx.post(served + "/api/v1/ingest", json=run, headers=tenant.runwatch_headers)
        assert answer.status_code == 200, answer.text
        answer = httpx.post(
            served + "/api/v1/test-results",
            content=report(cases),
            params={"provider": "github", "repository": REPO, "run_id": run_id, "job": "test"},
            headers={"Content-Type": "application/xml", **tenant.runwatch_headers},
        )
        assert answer.status_code == 200, answer.text


def get(served: str, path: str, headers: dict[str, str], **params: Any) -> httpx.Response:
    return httpx.get(served + path, params={**WINDOW, **params}, headers=headers, timeout=30)


def test_the_list_figures_by_hand(served: str, tenant: Tenant, reader: dict[str, str]) -> None:
    send_runs(served, tenant)
    answer = get(served, "/api/v1/analytics/tests", reader)
    assert answer.status_code == 200, answer.text
    items = answer.json()["items"]
    # Most failures first, then most flaky, most runs; test_a and test_d tie (by id).
    names = [i["name"] for i in items]
    assert names[0] == "test_b" and set(names[1:3]) == {"test_a", "test_d"}
    assert names[3] == "test_c"
    by_name = {i["name"]: i for i in items}
    b, a, d, c = (by_name[n] for n in ("test_b", "test_a", "test_d", "test_c"))
    assert (b["runs"], b["failures"], b["failure_rate"], b["mean_duration_ms"]) == (3, 3, 1, 220)
    assert (a["runs"], a["failures"], a["failure_rate"], a["mean_duration_ms"]) == (
        3,
        1,
        pytest.approx(1 / 3),
        120,
    )
    # test_c: one skipped (no duration), passed after a retry in its job once.
    assert (c["runs"], c["skipped"], c["failure_rate"], c["flaky"]) == (3, 1, 0, 1)
    assert c["mean_duration_ms"] == 305
    assert c["last_flaky_day"] == "2024-01-15T00:00:00Z"
    assert a["last_failure_day"] == "2024-01-17T00:00:00Z"
    assert b["previous_mean_duration_ms"] is None and a["repository"] == REPO
    assert d["failures"] == 1
    # Sorted, searched, filtered, CSV.
    slowest = get(served, "/api/v1/analytics/tests", reader, sort="-mean_duration_ms", limit=1)
    assert [i["name"] for i in slowest.json()["items"]] == ["test_c"]
    assert slowest.json()["next_cursor"] is not None
    named = get(served, "/api/v1/analytics/tests", reader, sort="name", limit=2).json()
    assert [i["name"] for i in named["items"]] == ["test_a", "test_b"]
    change = get(served, "/api/v1/analytics/tests", reader, sort="-duration_change")
    assert change.status_code == 200 and len(change.json()["items"]) == 4
    found = get(served, "/api/v1/analytics/tests", reader, q="TEST_D")
    assert [i["name"] for i in found.json()["items"]] == ["test_d"]
    other = get(served, "/api/v1/analytics/tests", reader, repository="acme/other")
    assert other.json()["items"] == []
    csv = get(served, "/api/v1/analytics/tests", reader, format="csv")
    assert csv.status_code == 200 and csv.text.count("\n") == 5
    wrong = get(served, "/api/v1/analytics/tests", reader, pipeline="x", branch="y", sort="z")
    assert wrong.status_code == 400
    assert "sort" in wrong.json()["error"] or "pipeline" in wrong.json()["error"]


def _test_id(served: str, reader: dict[str, str], name: str) -> str:
    items = get(served, "/api/v1/analytics/tests", reader, q=name).json()["items"]
    return str(items[0]["id"])


def test_one_test_broken_with_its_start(
    served: str, tenant: Tenant, reader: dict[str, str]
) -> None:
    send_runs(served, tenant)
    a = get(served, f"/api/v1/tests/{_test_id(served, reader, 'test_a')}", reader).json()
    assert a["state"] == "broken" and a["flaky_evidence"] == []
    assert a["started_failing"]["run_id"] == "3"
    assert a["started_failing"]["commit_sha"] == "b" * 40
    assert a["figures"]["p50_duration_ms"] == 120 and a["figures"]["p95_duration_ms"] == 140
    assert a["last_failure_at"] == "2024-01-17T10:00:00Z"
    assert [(m["message"], m["count"]) for m in a["messages"]] == [("other", 1)]
    history = a["history"]["items"]
    assert [(h["run_id"], h["status"]) for h in history] == [
        ("3", "failed"),
        ("2", "passed"),
        ("1", "passed"),
    ]
    b = get(served, f"/api/v1/tests/{_test_id(served, reader, 'test_b')}", reader).json()
    assert b["state"] == "broken" and b["started_failing"]["run_id"] == "1"
    assert [(m["message"], m["count"]) for m in b["messages"]] == [("boom", 3)]


def test_flaky_rules_a_and_b_and_paging(
    served: str, tenant: Tenant, reader: dict[str, str]
) -> None:
    send_runs(served, tenant)
    c = get(served, f"/api/v1/tests/{_test_id(served, reader, 'test_c')}", reader).json()
    assert c["state"] == "flaky"
    assert [(e["rule"], e["run_id"]) for e in c["flaky_evidence"]] == [("a", "1")]
    assert c["passes_since_flaky"] == 1 and c["last_flaky_at"] == "2024-01-15T10:00:00Z"
    d_id = _test_id(served, reader, "test_d")
    d = get(served, f"/api/v1/tests/{d_id}", reader).json()
    # Failed on run 1 and passed on run 2, both of commit a…a: rule b.
    assert d["state"] == "flaky" and d["started_failing"] is None
    assert [(e["rule"], e["run_id"], e["commit_sha"]) for e in d["flaky_evidence"]] == [
        ("b", "2", "a" * 40)
    ]
    first = get(served, f"/api/v1/tests/{d_id}", reader, limit=2).json()["history"]
    assert [h["run_id"] for h in first["items"]] == ["3", "2"]
    rest = get(served, f"/api/v1/tests/{d_id}", reader, limit=2, cursor=first["next_cursor"])
    assert [h["run_id"] for h in rest.json()["history"]["items"]] == ["1"]
    assert rest.json()["history"]["next_cursor"] is None
    assert get(served, "/api/v1/tests/12x", reader).status_code == 404
    assert get(served, "/api/v1/tests/42", reader).status_code == 404
    both = get(served, f"/api/v1/tests/{d_id}", reader, cursor="nope", limit=0)
    assert both.status_code == 400
    assert "limit:" in both.json()["error"] and "cursor:" in both.json()["error"]


def test_infrastructure_wide_failure_is_not_counted_per_test(
    served: str, tenant: Tenant, reader: dict[str, str], database: Database
) -> None:
    run = runwatch_run(started_at="2024-01-15T10:00:00Z", jobs=None)
    httpx.post(served + "/api/v1/ingest", json=run, headers=tenant.runwatch_headers)
    cases = [case(f"t{i}", 10, FAIL.format("connection refused", i)) for i in range(10)]
    cases.append(case("t_ok", 10))
    answer = httpx.post(
        served + "/api/v1/test-results",
        content=report(cases),
        params={"provider": "github", "repository": REPO, "run_id": "789012345"},
        headers={"Content-Type": "application/xml", **tenant.runwatch_headers},
    )
    assert answer.status_code == 200, answer.text
    (stored,) = rows(database, "test_reports")
    assert stored["infrastructure"] is True or stored["infrastructure"] == 1
    assert len(rows(database, "test_results")) == 11  # every result stored
    items = get(served, "/api/v1/analytics/tests", reader).json()["items"]
    assert [(i["name"], i["runs"], i["failures"]) for i in items] == [("t_ok", 1, 0)]


def test_another_organisation_sees_nothing(
    served: str, tenant: Tenant, accounts: AccountService
) -> None:
    send_runs(served, tenant)
    make_tenant(accounts, "other")
    other = {"X-API-Key": accounts.create_key("other", scopes=("read",)).key}
    assert get(served, "/api/v1/analytics/tests", other).json()["items"] == []


def cipulse(settings: Settings, *args: str) -> Any:
    return CliRunner().invoke(cli, ["--database-url", settings.database_url, *args])


def test_rules_set_and_backtest(served: str, tenant: Tenant, settings: Settings) -> None:
    send_runs(served, tenant)
    shown = cipulse(settings, "tests", "rules", "show", "--org", "acme")
    assert shown.exit_code == 0 and "a,b" in shown.output and "20" in shown.output
    # Every result is at most 3660 days old: the whole history.
    a = cipulse(settings, "tests", "backtest", "--rule", "a", "--days", "3660", "--org", "acme")
    assert a.exit_code == 0, a.output
    assert "rule a over 3660 days: 1 of 4 tests flagged, 1 occurrences, 12 results" in a.output
    assert "tests.shop::test_c" in a.output
    b = cipulse(settings, "tests", "backtest", "--rule", "b", "--days", "3660", "--org", "acme")
    assert (
        "1 of 4 tests flagged" in b.output and "test_d" in b.output and "aaaaaaaaaaaa" in b.output
    )
    # Rule c: test_d passed, failed, passed on main? No: failed first. None flips.
    c = cipulse(settings, "tests", "backtest", "--rule", "c", "--days", "3660", "--org", "acme")
    assert "0 of 4 tests flagged" in c.output
    wrong = cipulse(
        settings,
        "tests",
        "rules",
        "set",
        "--org",
        "acme",
        "--rules",
        "x",
        "--clear-after-passes",
        "0",
    )
    assert (
        wrong.exit_code == 1 and "rules:" in wrong.output and "clear_after_passes" in wrong.output
    )
    ok = cipulse(settings, "tests", "rules", "set", "--org", "acme", "--rules", "c,a")
    assert ok.exit_code == 0 and "a,c" in ok.output
    assert "a,c" in cipulse(settings, "tests", "rules", "show", "--org", "acme").output
