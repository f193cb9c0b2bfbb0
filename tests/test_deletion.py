"""Deleting repositories and organisations, on SQLite and PostgreSQL: a repository goes with
its pipelines, runs, jobs and every rollup row of its pipelines, and the organisation's
figures add up the rest again (purged days included); an organisation goes from every table
and another organisation's rows stay as they were; the CLI asks first."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from starlette.testclient import TestClient

from cipulse.accounts.deletion import DeletionService
from cipulse.accounts.rates import RateService
from cipulse.accounts.service import AccountService
from cipulse.accounts.teams import TeamService
from cipulse.accounts.users import UserService
from cipulse.accounts.webhooks import WebhookService
from cipulse.analytics import retention
from cipulse.analytics.flaky_tests import FlakyTestService
from cipulse.analytics.refresh import refresh_all
from cipulse.cli.main import cli
from cipulse.domain.flaky_rules import RuleSettings
from cipulse.domain.model import WebhookProvider
from cipulse.domain.window import DAY_MS, Filters, Window
from cipulse.settings import Settings
from cipulse.storage import quarantine_store
from cipulse.storage.clock import now_ms
from cipulse.storage.database import Database
from cipulse.storage.rollups import marks as rollup_marks
from cipulse.storage.rollups import set_aside as rollup_failures
from cipulse.storage.schema import metadata, webhook_deliveries
from tests.builders import runwatch_run, trunk_event, trunk_request
from tests.conftest import Tenant, count, make_tenant, rows
from tests.presented import PresentedService
from tests.servers import threaded_server
from tests.test_analytics_consistency import START, ingest, ms, random_attempts, reference
from tests.test_analytics_consistency import assert_same as assert_reference
from tests.test_retention import assert_same

PASSWORD = "correct horse battery"
WHOLE = Window(ms(START - timedelta(days=7)), ms(START + timedelta(days=56)))
APP = "acme/cool-project"
LIB = "acme/lib"


def no_rest(_seconds: float) -> None:
    pass


def two_repositories(database: Database, tenant: Tenant, seed: int = 6) -> None:
    """Random runs with jobs over 40 days, half of them in a second repository."""
    payloads = random_attempts(seed, 160, with_jobs=True)
    for payload in payloads:
        if int(payload["run_id"]) % 2:  # type: ignore[call-overload]
            payload["repository"] = LIB
    ingest(database, tenant, payloads)


def figures(database: Database, org_id: str, window: Window) -> dict[str, Any]:
    service = PresentedService(database)
    jobs, _ = service.jobs(org_id, window)
    return {
        "summary": service.summary(org_id, window),
        "jobs": sorted(jobs, key=lambda row: (row["pipeline_id"], row["definition_key"])),
        "recovery": service.recovery(org_id, window)["periods"],
    }


def org_rows(database: Database, org_id: str) -> dict[str, int]:
    """Rows of the organisation per table (``organisations``: its own row)."""
    found = {}
    with database.read() as conn:
        for table in metadata.sorted_tables:
            column = table.c.get("org_id")
            if column is None:
                column = table.c.id if table.name == "organisations" else None
            if column is not None:
                query = sa.select(sa.func.count()).where(column == org_id)
                found[table.name] = conn.execute(query).scalar_one()
    return found


@pytest.mark.parametrize("purged", [False, True])
def test_a_deleted_repository_leaves_the_rest_exact(
    database: Database, tenant: Tenant, purged: bool
) -> None:
    """Whether its days were purged or not: the organisation's figures are then those of
    the other repository, and nothing of the deleted one is left in any table."""
    two_repositories(database, tenant)
    refresh_all(database)
    org_id = AccountService(database).organisation("acme").id
    only_app = replace(WHOLE, filters=Filters(repository=APP))
    expected = figures(database, org_id, only_app)
    if purged:
        organisation = AccountService(database).organisation("acme")
        cut = ms(START + timedelta(days=20)) // DAY_MS
        retention.purge(database, organisation, cut, rest=lambda _: True)
        assert_same(figures(database, org_id, only_app), expected)
    (lib_row,) = rows(database, "repositories", full_name=LIB)
    lib_pipelines = {p["id"] for p in rows(database, "pipelines", repository_id=lib_row["id"])}
    assert lib_pipelines

    junit = (Path(__file__).parent / "fixtures/real/junit/pytest-9.2.xml").read_bytes()
    with threaded_server(Settings(database_url=database.settings.database_url)) as base:
        for repository in (APP, LIB):
            target = {"provider": "github", "repository": repository, "run_id": "1"}
            sent = httpx.post(
                base + "/api/v1/test-results",
                content=junit,
                params=target,
                headers=tenant.runwatch_headers,
            )
            assert sent.status_code == 200, sent.text
    with database.write() as conn:  # one quarantined test in each repository
        for case in rows(database, "test_cases", name="test_total"):
            quarantine_store.quarantine(conn, org_id, case["id"], "flaky", "ada", "hand")
    tables = ("test_reports", "test_results", "test_cases", "test_quarantine")
    test_rows = {t: count(database, t) for t in (*tables, "test_quarantine_history")}

    service = DeletionService(database, rest=no_rest)
    _, lib = service.find_repository("acme", LIB)
    deleted = service.delete_repository(org_id, lib)
    # The other repository's test results stay; the deleted one's are gone.
    assert {t: count(database, t) for t in test_rows} == {t: n // 2 for t, n in test_rows.items()}
    assert {r["repository_id"] for r in rows(database, "test_cases")} == {
        r["id"] for r in rows(database, "repositories", full_name=APP)
    }
    assert count(database, "test_daily_rollups") == count(database, "test_cases")
    assert deleted.attempts > 0
    assert {r["day"] for r in rows(database, "rollup_dirty")}  # organisation days to re-add
    refresh_all(database)

    assert [r["full_name"] for r in rows(database, "repositories")] == [APP]
    for table in metadata.sorted_tables:
        if "pipeline_id" in table.c:
            left = [r for r in rows(database, table.name) if r["pipeline_id"] in lib_pipelines]
            assert not left, table.name
    assert_same(figures(database, org_id, WHOLE), figures(database, org_id, only_app))
    got = figures(database, org_id, WHOLE)
    got["summary"] = {k: v for k, v in got["summary"].items() if k != "window"}
    want = dict(expected)
    want["summary"] = {k: v for k, v in expected["summary"].items() if k != "window"}
    assert_same(got, want)
    if not purged:  # and the stored figures are what the raw rows say
        summary = PresentedService(database).summary(org_id, WHOLE)
        assert_reference(summary, reference(database, org_id, WHOLE), WHOLE)


def busy_organisation(database: Database, client: TestClient, name: str) -> Tenant:
    """An organisation with something in every table: runs, jobs, job nodes whose run never
    arrived, custom metrics, red periods, keys, a webhook secret and a delivery, usage, a
    rate card, a member with a session (``stuck`` adds the rest)."""
    accounts = AccountService(database)
    tenant = make_tenant(accounts, name)
    ingest(database, tenant, random_attempts(9, 40, with_jobs=True))
    orphan = trunk_event("lonely", "chain", parent="missing")
    measured = trunk_event("root", "measured", kind="pipeline", metrics={"coverage": 80})
    response = client.post(
        "/v1/metrics/trackEvents",
        json=trunk_request(orphan, measured),
        headers=tenant.trunk_headers,
    )
    assert response.status_code == 200, response.text
    reviewed = runwatch_run(pull_request_number=7, commit_sha="abcd1234")  # a pull request
    response = client.post("/api/v1/ingest", json=reviewed, headers=tenant.runwatch_headers)
    assert response.status_code == 200, response.text
    junit = (Path(__file__).parent / "fixtures/real/junit/pytest-9.2.xml").read_bytes()
    response = client.post(
        "/api/v1/test-results",
        content=junit,
        params={"pipeline_run_id": response.json()["pipeline_run_id"], "job": "test"},
        headers=tenant.runwatch_headers,
    )
    assert response.status_code == 200, response.text
    org_id = accounts.organisation(name).id
    (case, *_) = rows(database, "test_cases", org_id=org_id)
    with database.write() as conn:  # the quarantine list and its history
        quarantine_store.quarantine(conn, org_id, case["id"], "flaky", "ada", "hand")
    WebhookService(database).set_secret(name, WebhookProvider.GITHUB, None)
    RateService(database).load_defaults(name)
    UserService(database).create_user(f"ada@{name}.example", name, PASSWORD)
    UserService(database).sign_in(f"ada@{name}.example", PASSWORD)
    TeamService(database).import_codeowners(name, "* @acme/web\n", None)  # teams and rules
    TeamService(database).add_rule(name, "repository", "acme/*", "Platform")
    FlakyTestService(database).set_settings(name, RuleSettings(("a", "c")), None)
    return tenant


def stuck(database: Database, name: str) -> None:
    """A mark waiting for the refresher, a partition set aside, a webhook delivery."""
    org_id = AccountService(database).organisation(name).id
    (pipeline_id, *_) = {r["pipeline_id"] for r in rows(database, "run_attempts", org_id=org_id)}
    mark = rollup_marks.Marked(org_id, rollup_marks.FIGURES, pipeline_id, 1)
    with database.write() as conn:
        rollup_marks.mark_dirty(conn, [(org_id, pipeline_id, 1)], now_ms())
        rollup_failures.record_failure(conn, mark, "boom", now_ms())
        conn.execute(
            sa.insert(webhook_deliveries).values(
                org_id=org_id, provider="github", delivery_id="d1", received_at_ms=now_ms()
            )
        )


def test_a_deleted_organisation_leaves_no_row_and_others_untouched(
    database: Database, client: TestClient
) -> None:
    for name in ("acme", "globex"):
        busy_organisation(database, client, name)
    refresh_all(database)
    for name in ("acme", "globex"):
        stuck(database, name)
    accounts = AccountService(database)
    acme, globex = accounts.organisation("acme").id, accounts.organisation("globex").id
    before = org_rows(database, acme)
    assert all(before.values()), [t for t, n in before.items() if not n]  # every table
    globex_before = org_rows(database, globex)

    deleted = DeletionService(database, rest=no_rest).delete_organisation("acme")

    assert deleted.rows["run_attempts"] == before["run_attempts"]
    assert deleted.users_left_without_organisation == ["ada@acme.example"]
    assert not any(org_rows(database, acme).values())
    assert org_rows(database, globex) == globex_before
    assert [u.email for u in UserService(database).users()] == [
        "ada@acme.example",
        "ada@globex.example",
    ]
    assert [o.name for o in accounts.organisations()] == ["globex"]


def test_the_cli_asks_before_deleting(settings: Settings, database: Database) -> None:
    tenant = make_tenant(AccountService(database), "acme")
    two_repositories(database, tenant)
    runner = CliRunner()
    base = ["--database-url", settings.database_url]
    kept = runner.invoke(cli, [*base, "repos", "delete", LIB, "--org", "acme"], input="n\n")
    assert kept.exit_code == 1 and "Delete acme/lib (github.com) of 'acme'" in kept.stderr
    assert len(rows(database, "repositories")) == 2
    gone = runner.invoke(cli, [*base, "repos", "delete", LIB, "--org", "acme"], input="y\n")
    assert gone.exit_code == 0, gone.output
    assert "deleted acme/lib (github.com) and its" in gone.stderr
    assert [r["full_name"] for r in rows(database, "repositories")] == [APP]
    unknown = runner.invoke(cli, [*base, "repos", "delete", LIB, "--org", "acme", "--yes"])
    assert unknown.exit_code == 1 and "no repository named 'acme/lib'" in unknown.stderr
    org = runner.invoke(cli, [*base, "orgs", "delete", "acme", "--yes"])
    assert org.exit_code == 0, org.output
    assert "deleted 'acme':" in org.stderr and not rows(database, "run_attempts")
    again = runner.invoke(cli, [*base, "orgs", "delete", "acme", "--yes"])
    assert again.exit_code == 1 and "no organisation named 'acme'" in again.stderr


def test_a_repository_on_two_code_hosts_is_named_with_its_host(
    settings: Settings, database: Database, client: TestClient
) -> None:
    tenant = make_tenant(AccountService(database), "acme")
    for host in ("github.com", "gitlab.example"):
        event = trunk_event("root", f"chain-{host}", kind="pipeline")
        response = client.post(
            "/v1/metrics/trackEvents",
            json=trunk_request(event, owner="acme", name="app", host=host),
            headers=tenant.trunk_headers,
        )
        assert response.status_code == 200, response.text
    runner = CliRunner()
    base = ["--database-url", settings.database_url, "repos", "delete", "acme/app"]
    both = runner.invoke(cli, [*base, "--org", "acme", "--yes"])
    assert both.exit_code == 1
    assert "on several code hosts (github.com, gitlab.example); name one" in both.stderr
    one = runner.invoke(cli, [*base, "--org", "acme", "--host", "gitlab.example", "--yes"])
    assert one.exit_code == 0, one.output
    assert [r["host"] for r in rows(database, "repositories")] == ["github.com"]
