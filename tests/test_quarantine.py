"""The quarantine list and test owners, end to end, on SQLite and PostgreSQL.

Reports go in through the real endpoint; expected lists, owners and ids are written out by
hand from the reports below (the pytest one is real, ``fixtures/real/junit``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from cipulse.accounts.service import AccountService
from cipulse.accounts.teams import TeamService
from cipulse.analytics.test_owners import test_owners
from cipulse.cli.main import cli
from cipulse.settings import Settings
from cipulse.storage import quarantine_store
from cipulse.storage.database import Database
from tests.builders import RUNWATCH_EXAMPLE
from tests.conftest import Tenant, make_tenant, rows

REAL = Path(__file__).parent / "fixtures" / "real" / "junit"
PYTEST = (REAL / "pytest-9.2-rerunfailures-16.7.xml").read_bytes()
#: Hand-written: two tests with a file, one without a class (as go-junit-report writes).
WITH_FILES = b"""<?xml version="1.0"?>
<testsuites><testsuite name="unit">
<testcase classname="billing.InvoiceTest" name="totals" file="tests/billing/test_invoice.py"/>
<testcase classname="api.UserTest" name="login" file="src/api/user_test.py">
  <failure message="expected 200&#10;got 500">trace line one</failure></testcase>
<testcase classname="" name="TestGoThing"/>
</testsuite></testsuites>"""
RUN = {"provider": "github", "repository": "acme/cool-project", "run_id": "789012345"}
QUARANTINE = "/api/v1/tests/quarantine"


@pytest.fixture
def tenant(accounts: AccountService) -> Tenant:
    return make_tenant(accounts, "acme", ("ingest", "read"))


@pytest.fixture
def client(settings: Settings, tenant: Tenant) -> TestClient:
    with TestClient(create_app_for(settings), raise_server_exceptions=False) as client:
        headers = tenant.runwatch_headers
        assert client.post("/api/v1/ingest", json=RUNWATCH_EXAMPLE, headers=headers).is_success
        for job, body in (("test", PYTEST), ("unit", WITH_FILES)):
            sent = client.post(
                "/api/v1/test-results",
                content=body,
                params={**RUN, "job": job},
                headers={**headers, "Content-Type": "application/xml"},
            )
            assert sent.status_code == 200, sent.text
        yield client


def create_app_for(settings: Settings):  # type: ignore[no-untyped-def]
    from cipulse.web.app import create_app

    return create_app(settings)


def case_id(database: Database, class_name: str, name: str) -> int:
    (row,) = rows(database, "test_cases", class_name=class_name, name=name)
    return int(row["id"])


def invoke(settings: Settings, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--database-url", settings.database_url, *args])
    return result.exit_code, result.output


def test_cli_add_list_text_and_history(
    client: TestClient, tenant: Tenant, settings: Settings, database: Database
) -> None:
    code, out = invoke(
        settings,
        *("tests", "quarantine", "add", "--org", "acme", "--repository", "acme/cool-project"),
        *("--reason", "flaky on CI", "--by", "ana@example.com"),
        "tests.test_shop::test_flaky_network",
        "billing.InvoiceTest::totals",
    )
    assert code == 0, out
    # Again: nothing changes, nothing is logged.
    code, out = invoke(
        settings,
        *("tests", "quarantine", "add", "--org", "acme", "--repository", "acme/cool-project"),
        *("--reason", "again", "tests.test_shop::test_flaky_network"),
    )
    assert code == 0 and "already quarantined" in out
    answer = client.get(
        QUARANTINE,
        params={"repository": "acme/cool-project", "format": "text"},
        headers=tenant.runwatch_headers,
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    assert answer.text == "tests.test_shop::test_flaky_network\nbilling.InvoiceTest::totals\n"
    history = rows(database, "test_quarantine_history")
    assert sorted((h["action"], h["by"], h["reason"], h["source"]) for h in history) == [
        ("added", "ana@example.com", "flaky on CI", "hand"),
        ("added", "ana@example.com", "flaky on CI", "hand"),
    ]
    code, out = invoke(
        settings,
        *("tests", "quarantine", "remove", "--org", "acme", "--repository", "acme/cool-project"),
        *("--reason", "fixed in #12", "--by", "bo@example.com"),
        str(case_id(database, "billing.InvoiceTest", "totals")),
    )
    assert code == 0 and "released" in out, out
    answer = client.get(
        QUARANTINE, params={"repository": "acme/cool-project"}, headers=tenant.runwatch_headers
    )
    found = answer.json()
    assert [t["test_id"] for t in found["tests"]] == ["tests.test_shop::test_flaky_network"]
    (test,) = found["tests"]
    assert (test["suite"], test["classname"], test["name"], test["file"]) == (
        "pytest",
        "tests.test_shop",
        "test_flaky_network",
        None,
    )
    assert (test["reason"], test["by"], test["source"]) == (
        "flaky on CI",
        "ana@example.com",
        "hand",
    )
    newest = found["history"][0]
    assert (newest["action"], newest["by"], newest["reason"]) == (
        "removed",
        "bo@example.com",
        "fixed in #12",
    )
    assert len(found["history"]) == 3
    code, out = invoke(
        settings,
        "tests",
        "quarantine",
        "list",
        "--org",
        "acme",
        "--repository",
        "acme/cool-project",
        "--history",
    )
    assert code == 0 and "tests.test_shop::test_flaky_network" in out and "removed" in out


def test_every_bad_field_is_named_and_nothing_written(
    client: TestClient, tenant: Tenant, settings: Settings, database: Database
) -> None:
    code, out = invoke(
        settings,
        *("tests", "quarantine", "add", "--org", "acme", "--repository", "acme/cool-project"),
        *("--reason", "x"),
        "tests.test_shop::test_flaky_network",
        "no-separator",
        "nope::missing",
    )
    assert code == 1
    assert "'no-separator' is neither" in out and "'nope::missing' names no test" in out
    assert rows(database, "test_quarantine") == []
    assert rows(database, "test_quarantine_history") == []
    answer = client.get(QUARANTINE, params={"format": "xml"}, headers=tenant.runwatch_headers)
    assert answer.status_code == 400
    message = answer.json()["error"]
    assert "repository: required" in message and "format: must be json or text" in message
    answer = client.get(
        QUARANTINE, params={"repository": "acme/none"}, headers=tenant.runwatch_headers
    )
    assert answer.status_code == 404
    assert client.get(QUARANTINE, params={"repository": "acme/cool-project"}).status_code == 401


def test_owner_precedence(client: TestClient, database: Database) -> None:
    teams = TeamService(database)
    teams.import_codeowners(
        "acme", "* @acme/everyone\n/tests/billing/ @acme/billing @acme/qa\n/src/ @acme/src\n", None
    )
    teams.add_rule("acme", "pipeline", "CI Pipeline", "ci-team")
    (org,) = rows(database, "organisations")
    ids = {
        "billing": case_id(database, "billing.InvoiceTest", "totals"),
        "api": case_id(database, "api.UserTest", "login"),
        "nofile": case_id(database, "tests.test_shop", "test_flaky_network"),
    }
    with database.read() as conn:
        found = test_owners(conn, str(org["id"]), list(ids.values()))
    # A file its CODEOWNERS path rule decides: that rule's first owner.
    assert (found[ids["billing"]].team, found[ids["billing"]].reason.value) == (
        "@acme/billing",
        "CODEOWNERS test file",
    )
    assert found[ids["api"]].team == "@acme/src"
    # Without a file (or one only the catch-all decides): the pipeline's owner.
    assert (found[ids["nofile"]].team, found[ids["nofile"]].reason.value) == (
        "ci-team",
        "pipeline owner",
    )


def test_failed_tests_of_a_run(client: TestClient, tenant: Tenant, database: Database) -> None:
    (attempt,) = rows(database, "run_attempts")
    answer = client.get(f"/api/v1/runs/{attempt['id']}", headers=tenant.runwatch_headers)
    assert answer.status_code == 200
    failed = {job["job"]: job for job in answer.json()["failed_tests"]}
    # The pytest report: 10 tests, 3 failed or erred (see the XML); the hand-written: 1 of 3.
    assert (failed["test"]["test_count"], failed["test"]["failed"], failed["test"]["more"]) == (
        10,
        3,
        0,
    )
    assert [(t["test_id"], t["status"]) for t in failed["test"]["tests"]] == [
        ("tests.test_shop.TestBasket::test_discount_is_wrong", "failed"),
        ("tests.test_shop::test_orders_need_db", "error"),
        ("tests.test_shop::test_always_broken", "failed"),
    ]
    assert failed["test"]["tests"][0]["message"] == "AssertionError: discount not applied"
    (login,) = failed["unit"]["tests"]
    assert (login["test_id"], login["message"], login["file"]) == (
        "api.UserTest::login",
        "expected 200",
        "src/api/user_test.py",
    )


def test_failed_tests_bounded_with_the_rest_counted(
    client: TestClient, tenant: Tenant, database: Database
) -> None:
    cases = "".join(
        f'<testcase classname="c" name="t{i}"><failure message="m{i}"/></testcase>'
        for i in range(57)
    )
    body = f'<testsuite name="s">{cases}<testcase classname="c" name="ok"/></testsuite>'.encode()
    sent = client.post(
        "/api/v1/test-results",
        content=body,
        params={**RUN, "job": "many"},
        headers={**tenant.runwatch_headers, "Content-Type": "application/xml"},
    )
    assert sent.status_code == 200, sent.text
    (attempt,) = rows(database, "run_attempts")
    answer = client.get(f"/api/v1/runs/{attempt['id']}", headers=tenant.runwatch_headers)
    (many,) = [job for job in answer.json()["failed_tests"] if job["job"] == "many"]
    assert (many["test_count"], many["failed"], len(many["tests"]), many["more"]) == (58, 57, 50, 7)
    assert [t["name"] for t in many["tests"]] == [f"t{i}" for i in range(50)]


def test_rule_hook_is_idempotent(client: TestClient, database: Database) -> None:
    (org,) = rows(database, "organisations")
    org_id = str(org["id"])
    flaky = case_id(database, "tests.test_shop", "test_flaky_network")
    with database.write() as conn:
        assert quarantine_store.quarantine(conn, org_id, flaky, "rule a: 3 flips", "rule:a")
        assert not quarantine_store.quarantine(conn, org_id, flaky, "again", "rule:a")
    ((row,), history) = rows(database, "test_quarantine"), rows(database, "test_quarantine_history")
    assert (row["source"], row["by"], len(history)) == ("rule", "rule:a", 1)


def test_owner_rules_by_hand() -> None:
    from cipulse.domain import codeowners
    from cipulse.domain.ownership import PipelineFacts, RuleKind, Rules, TeamRule
    from cipulse.domain.test_ownership import split_test_id, test_id, test_owner

    parsed = codeowners.parse("* @all\n/web/ @web\n")
    rules = Rules((TeamRule(RuleKind.REPOSITORY, "acme/*", "repo-team", 1),), {"": parsed.rules})
    ci = PipelineFacts("p1", "acme/shop", "ci.yml", "CI")
    assert test_owner("acme/shop", "web/a_test.js", ci, rules).team == "@web"
    # Only the catch-all decides: the pipeline's owner (here its repository rule).
    assert test_owner("acme/shop", "lib/b_test.js", ci, rules).team == "repo-team"
    assert test_owner("acme/shop", None, ci, rules).reason.value == "pipeline owner"
    assert test_owner("acme/shop", "lib/b_test.js", None, rules).team is None
    assert test_id("suite", "", "TestX") == "suite::TestX"
    assert split_test_id("a.b::C::test_d[1]") == ("a.b::C", "test_d[1]")
    assert split_test_id("::x") is None and split_test_id("x::") is None


def test_the_documented_pytest_snippet_matches_pytests_junit_ids(tmp_path: Path) -> None:
    """docs/api.md's conftest.py, run as written: its ids are those of the real pytest
    report's ``classname::name`` (fixtures/real/junit, written by pytest 9.2)."""
    text = (Path(__file__).parents[1] / "docs" / "api.md").read_text()
    start = text.index("```python\n  import os, pathlib, re, pytest")
    block = text[start:].split("\n", 1)[1].split("```", 1)[0]
    code = "\n".join(line.removeprefix("  ") for line in block.splitlines())
    namespace: dict[str, object] = {}
    exec(compile(code, "conftest.py", "exec"), namespace)
    junit_id = namespace["junit_id"]
    assert callable(junit_id)
    assert junit_id("tests/test_shop.py::TestBasket::test_total") == (
        "tests.test_shop.TestBasket::test_total"
    )
    assert junit_id("tests/test_shop.py::test_orders_need_db") == (
        "tests.test_shop::test_orders_need_db"
    )
    assert b'classname="tests.test_shop.TestBasket" name="test_total"' in PYTEST
    assert b'classname="tests.test_shop" name="test_orders_need_db"' in PYTEST
