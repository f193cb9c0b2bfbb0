"""Teams on SQLite and PostgreSQL: rules stored and listed (CLI and service), the ``team``
filter on the read endpoints, the Teams ranking (``/api/v1/analytics/teams``) and job rules
narrowing job lists, on the branch-scope dataset worked out by hand
(``tests/test_branch_scope.py``), before the rollups are refreshed and after.

``acme/app`` (pipeline ``CI``) gets ``@acme/app-team`` from its CODEOWNERS' ``*`` line;
``acme/lib`` (pipeline ``Build``) gets ``Platform`` from a repository rule.

By hand, per pipeline over the window (attempts, successes, failures, compute, flaky runs):
CI 8, 5, 3, 610 s (100+50+100+60+50+100+100+50), 2 (runs 2 and 4);
Build 6, 2, 4, 400 s (100+50+100+50+50+50), 0.
Red periods ended in the window, from a failure's completion to the success's: CI on
master (10:00:50 to 11:01:40, 3650 s) and on feature/x (the same hours, 3650 s), CI still
red on main at the end; Build on develop (Jan 2 09:00:50 to Jan 3 09:01:40, 86,450 s),
still red on develop, master and without a branch at the end."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from cipulse.accounts.service import AccountService
from cipulse.accounts.teams import TeamService
from cipulse.cli.main import cli
from cipulse.demo import teams as demo_teams
from cipulse.errors import InvalidRequest
from cipulse.settings import Settings
from cipulse.storage.database import Database
from tests.conftest import Tenant
from tests.test_branch_scope import DATASET, WINDOW, refresh_everything

APP_TEAM, PLATFORM = "@acme/app-team", "Platform"


@pytest.fixture
def reader(accounts: AccountService, tenant: Tenant) -> Tenant:
    return Tenant(name="acme", key=accounts.create_key("acme", scopes=("read",)).key)


@pytest.fixture
def seeded(client: TestClient, tenant: Tenant, database: Database) -> None:
    for payload in DATASET:
        response = client.post(
            "/functions/v1/ingest", json=payload, headers=tenant.runwatch_headers
        )
        assert response.status_code == 200, response.text
    teams = TeamService(database)
    teams.import_codeowners("acme", f"# app\n* {APP_TEAM} @someone\n", "acme/app")
    teams.add_rule("acme", "repository", "acme/lib", PLATFORM)


def get(client: TestClient, reader: Tenant, path: str, **params: Any) -> Any:
    response = client.get(path, params={**WINDOW, **params}, headers={"X-API-Key": reader.key})
    assert response.status_code == 200, response.text
    return response.json() if "json" in response.headers["content-type"] else response.text


FIGURES = {  # team: runs, successes, failures, compute, flaky
    APP_TEAM: (8, 5, 3, 610, 2),
    "platform": (6, 2, 4, 400, 0),  # any case
    "unowned": (0, 0, 0, 0, 0),
}


def check_filters(client: TestClient, reader: Tenant) -> None:
    for team, (runs, successes, failures, compute, flaky) in FIGURES.items():
        summary = get(client, reader, "/api/v1/analytics/summary", team=team)
        assert (
            summary["runs"],
            summary["by_status"]["success"],
            summary["by_status"]["failure"],
            summary["compute_seconds"],
            summary["flaky_runs"],
        ) == (runs, successes, failures, compute, flaky), team
        runs_page = get(client, reader, "/api/v1/runs", team=team)["items"]
        assert len(runs_page) == runs, team
    pipelines = get(client, reader, "/api/v1/pipelines", team=APP_TEAM)["items"]
    assert [(p["name"], p["runs"]) for p in pipelines] == [("CI", 8)]
    jobs = get(client, reader, "/api/v1/analytics/jobs", team=PLATFORM)["items"]
    assert sorted((j["pipeline"], j["job"], j["runs"]) for j in jobs) == [
        ("Build", "build", 6),
        ("Build", "test", 6),
    ]
    series = get(client, reader, "/api/v1/analytics/timeseries", team=APP_TEAM, metric="runs")
    assert [point["value"] for point in series["points"]] == [1, 3, 2, 1, 0, 1, 0]


def check_ranking(client: TestClient, reader: Tenant) -> None:
    found = get(client, reader, "/api/v1/analytics/teams")
    rows = {row["team"]: row for row in found["items"]}
    assert [row["team"] for row in found["items"]] == [APP_TEAM, PLATFORM, "unowned"]
    app, platform, unowned = rows[APP_TEAM], rows[PLATFORM], rows["unowned"]
    assert (app["pipelines"], app["compute_seconds"], app["runs"], app["flaky_runs"]) == (
        1,
        610,
        8,
        2,
    )
    assert (app["decided_runs"], app["failed_runs"], app["failure_rate"]) == (8, 3, 3 / 8)
    assert (app["red_seconds"], app["recovered_periods"], app["red_at_end"]) == (7300, 2, 1)
    assert (platform["compute_seconds"], platform["failure_rate"]) == (400, 4 / 6)
    assert (platform["red_seconds"], platform["recovered_periods"], platform["red_at_end"]) == (
        86_450,
        1,
        3,
    )
    assert unowned["unowned"] and unowned["pipelines"] == 0 and unowned["runs"] == 0
    assert app["previous"]["runs"] == 0 and app["cost"] is None and app["waste"] is None
    assert found["previous_window"]["since"] == "2023-12-25T00:00:00Z"
    by_runs = get(client, reader, "/api/v1/analytics/teams", sort="failure_rate")["items"]
    assert [row["team"] for row in by_runs] == [APP_TEAM, PLATFORM, "unowned"]
    csv = get(client, reader, "/api/v1/analytics/teams", format="csv")
    header, *lines = csv.strip().splitlines()
    assert header.startswith("team,unowned,pipelines,compute_seconds,runs")
    assert "previous_compute_seconds" in header and len(lines) == 3
    only = get(client, reader, "/api/v1/analytics/teams", team="PLATFORM")["items"]
    assert [row["team"] for row in only] == [PLATFORM]


def test_team_filter_and_ranking(
    client: TestClient, reader: Tenant, seeded: None, database: Database
) -> None:
    check_filters(client, reader)
    check_ranking(client, reader)
    refresh_everything(database)
    check_filters(client, reader)
    check_ranking(client, reader)


def test_an_unknown_team_is_refused(client: TestClient, reader: Tenant, seeded: None) -> None:
    for path in ("/api/v1/analytics/summary", "/api/v1/pipelines", "/api/v1/analytics/teams"):
        response = client.get(path, params={"team": "nobody"}, headers={"X-API-Key": reader.key})
        assert response.status_code == 400, path
        assert response.json()["error"].startswith("team: no team named 'nobody'")


def test_job_rules_narrow_job_lists(
    client: TestClient, reader: Tenant, seeded: None, database: Database
) -> None:
    """A job rule gives QA every ``test`` job: QA's job lists hold both pipelines' test
    jobs, the app team's only its build job; run figures stay the pipelines' teams'."""
    TeamService(database).add_rule("acme", "job", "TEST", "QA")
    for _ in range(2):
        qa = get(client, reader, "/api/v1/analytics/jobs", team="qa")["items"]
        assert sorted((j["pipeline"], j["job"]) for j in qa) == [("Build", "test"), ("CI", "test")]
        app = get(client, reader, "/api/v1/analytics/jobs", team=APP_TEAM)["items"]
        assert [(j["pipeline"], j["job"]) for j in app] == [("CI", "build")]
        flaky = get(client, reader, "/api/v1/analytics/flaky", team=APP_TEAM)["items"]
        assert all(j["job"] == "build" for j in flaky)
        csv = get(client, reader, "/api/v1/analytics/jobs", team="qa", format="csv")
        assert len(csv.strip().splitlines()) == 3
        assert get(client, reader, "/api/v1/analytics/summary", team="qa")["runs"] == 0
        refresh_everything(database)


def test_rules_replace_and_teams_follow(database: Database, tenant: Tenant) -> None:
    teams = TeamService(database)
    teams.import_codeowners("acme", "* @a\n/x/ @b @c\n", None)
    assert [t.name for t in teams.teams("acme")] == ["@a", "@b", "unowned"]
    teams.import_codeowners("acme", "* @d\n", None)  # replaces the default file
    teams.add_rule("acme", "pipeline", "deploy*", "Release")
    teams.add_rule("acme", "pipeline", "DEPLOY*", "Ops")  # the same pattern: new team, last
    listing = teams.rules("acme")
    assert [(r.kind.value, r.pattern, r.team) for r in listing.explicit] == [
        ("pipeline", "DEPLOY*", "Ops")
    ]
    assert [(f.repository, f.rules) for f in listing.files] == [("", 1)]
    assert [t.name for t in teams.teams("acme")] == ["@d", "Ops", "unowned"]
    teams.remove_rule("acme", "pipeline", "deploy*")
    teams.remove_codeowners("acme", "")
    assert [t.name for t in teams.teams("acme")] == ["unowned"]


def test_bad_rules_are_refused_whole(database: Database, tenant: Tenant) -> None:
    teams = TeamService(database)
    with pytest.raises(InvalidRequest) as refused:
        teams.add_rule("acme", "branch", "", "x" * 201)
    assert refused.value.problems == [
        "kind: must be pipeline, repository, job",
        "pattern: must not be empty",
        "team: must be at most 200 characters",
    ]
    with pytest.raises(InvalidRequest, match="team: 'unowned' is the name"):
        teams.add_rule("acme", "job", "x", "Unowned")
    with pytest.raises(InvalidRequest, match="line 2: 'nobody' is not an owner"):
        teams.import_codeowners("acme", "* @a\n*.md nobody\n", "acme/app")
    assert teams.rules("acme").files == []  # nothing half-written


def run(settings: Settings, *args: str) -> Any:
    return CliRunner().invoke(cli, ["--database-url", settings.database_url, *args])


def test_cli(settings: Settings, tenant: Tenant, tmp_path: Path) -> None:
    file = tmp_path / "CODEOWNERS"
    file.write_text("# ours\n* @acme/web\n/.github/workflows/deploy.yml @acme/release\n")
    imported = run(
        settings, "teams", "import", str(file), "--org", "acme", "--repository", "acme/app"
    )
    assert imported.exit_code == 0, imported.output
    assert "imported 2 rules for acme/app; teams: @acme/web, @acme/release" in imported.output
    added = run(
        settings, "teams", "rules", "add", "repository", "acme/lib*", "Platform", "--org", "acme"
    )
    assert added.exit_code == 0 and "repository rule 'acme/lib*' → Platform" in added.output
    listed = run(settings, "teams", "rules", "list", "--org", "acme")
    assert "repository  acme/lib*  Platform" in listed.stdout
    assert "codeowners  acme/app" in listed.stdout
    teams = run(settings, "teams", "list", "--org", "acme")
    assert [line.split()[0] for line in teams.stdout.splitlines()] == [
        "TEAM",
        "@acme/release",
        "@acme/web",
        "Platform",
        "unowned",
    ]
    bad = run(settings, "teams", "rules", "remove", "job", "nothing", "--org", "acme")
    assert bad.exit_code == 1 and "no job rule 'nothing'" in bad.output
    file.write_text("* @ok\nsrc/ bad owner\n")
    refused = run(settings, "teams", "import", str(file), "--org", "acme")
    assert refused.exit_code == 1 and "line 2:" in refused.output


# SQLite only: the demo's rules are the same on both databases, PostgreSQL's team reads are
# checked above, and seeding it twice cost 25 s of the suite (test_demo seeds both).
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_demo_seed_maps_its_repositories_to_teams(settings: Settings, database: Database) -> None:
    """The demo's rules (``demo/teams.py``): product teams own most pipelines, a pipeline
    rule and the default CODEOWNERS a few, some systems none; seeding again changes nothing."""
    args = ["demo", "seed", "--runs", "3000", "--days", "20", "--now", "2024-03-01 00:00:00"]
    for _ in range(2):
        seeded = run(settings, *args, "--workers", "0")
        assert seeded.exit_code == 0, seeded.output
    teams = TeamService(database)
    owned = {team.name: team.pipelines for team in teams.teams("demo")}
    assert set(owned) >= {"@acme/payments", "@acme/platform", "@acme/security", "unowned"}
    listed = teams.pipeline_owners("demo")
    assert sum(owned.values()) == len(listed) > 0
    for row in listed:  # each pipeline's team, from demo/teams.py's rules by hand
        system = row.pipeline.repository.rsplit("/", 1)[-1].rsplit("-", 1)[0]
        by_system = [t for t, systems in demo_teams.TEAM_SYSTEMS.items() if system in systems]
        expected = "@acme/security" if row.pipeline.name == "Security scan" else None
        assert row.owner.team == (expected or (by_system[0] if by_system else None)), row
    listing = teams.rules("demo")
    assert [(f.repository, f.rules) for f in listing.files] == [("", 3)]
    assert ("job", "lint*") in {(r.kind.value, r.pattern) for r in listing.explicit}
