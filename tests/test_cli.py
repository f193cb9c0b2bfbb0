"""The CLI, run in-process with click's runner against real databases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cipulse.cli.main import cli
from cipulse.domain.keys import hash_key
from cipulse.settings import Settings
from cipulse.storage.database import Database
from tests.builders import RUNWATCH_EXAMPLE, TRUNK_EXAMPLE, runwatch_run
from tests.conftest import count, rows


def run(settings: Settings, *args: str) -> Result:
    return CliRunner().invoke(
        cli, ["--database-url", settings.database_url, *args], catch_exceptions=False
    )


def test_orgs_create_list_and_limits(settings: Settings) -> None:
    assert run(settings, "orgs", "create", "acme").exit_code == 0
    duplicate = run(settings, "orgs", "create", "acme")
    assert duplicate.exit_code == 1
    assert "already exists" in duplicate.stderr
    limits = run(
        settings,
        "orgs",
        "set-limits",
        "acme",
        "--max-repositories",
        "3",
        "--max-runs-per-month",
        "1000",
    )
    assert limits.exit_code == 0
    listing = run(settings, "orgs", "list")
    assert listing.exit_code == 0
    line = next(line for line in listing.stdout.splitlines() if line.startswith("acme"))
    assert line.split()[-4:] == ["0", "3", "0", "1000"]
    run(settings, "orgs", "set-limits", "acme", "--max-repositories", "0")
    line = next(
        line
        for line in run(settings, "orgs", "list").stdout.splitlines()
        if line.startswith("acme")
    )
    assert line.split()[-3:] == ["none", "0", "1000"]
    unknown = run(settings, "orgs", "set-limits", "nope", "--max-repositories", "1")
    assert unknown.exit_code == 1
    assert "no organisation named 'nope'" in unknown.stderr


def test_keys_create_prints_only_the_key(settings: Settings, database: Database) -> None:
    run(settings, "orgs", "create", "acme")
    created = run(
        settings, "keys", "create", "--org", "acme", "--name", "ci", "--scope", "ingest,read"
    )
    assert created.exit_code == 0
    key = created.stdout.strip()
    assert "\n" not in key and key.startswith("cip_")
    (stored,) = rows(database, "api_keys")
    assert stored["key_hash"] == hash_key(key)
    assert stored["scopes"] == "ingest,read"
    assert key not in created.stderr
    listing = run(settings, "keys", "list").stdout
    assert stored["prefix"] in listing and "ingest,read" in listing and key not in listing
    bad_scope = run(settings, "keys", "create", "--org", "acme", "--scope", "admin")
    assert bad_scope.exit_code == 1
    assert "scope: must be a comma-separated list of ingest, read" in bad_scope.stderr


def test_keys_revoke(settings: Settings, database: Database) -> None:
    run(settings, "orgs", "create", "acme")
    run(settings, "keys", "create", "--org", "acme")
    prefix = rows(database, "api_keys")[0]["prefix"]
    assert run(settings, "keys", "revoke", prefix).exit_code == 0
    assert rows(database, "api_keys")[0]["revoked_at_ms"] is not None
    again = run(settings, "keys", "revoke", prefix)
    assert again.exit_code == 1
    assert "no active key" in again.stderr


def test_ingest_files_reports_errors_and_a_summary(
    settings: Settings, database: Database, tmp_path: Path
) -> None:
    run(settings, "orgs", "create", "acme")
    single = tmp_path / "single.json"
    single.write_text(json.dumps(RUNWATCH_EXAMPLE))
    many = tmp_path / "many.json"
    many.write_text(json.dumps([runwatch_run(run_id=i) for i in range(1, 4)] + [{"provider": "x"}]))
    lines = tmp_path / "runs.jsonl"
    lines.write_text(
        "\n".join(json.dumps(runwatch_run(run_id=i)) for i in range(10, 15)) + "\nnot json\n"
    )
    result = run(
        settings,
        "ingest",
        str(single),
        str(many),
        str(lines),
        "--format",
        "runwatch",
        "--org",
        "acme",
    )
    assert result.exit_code == 1
    assert f"{many}[3]: provider: must be one of" in result.stderr
    assert f"{lines}:6: body: not valid JSON" in result.stderr
    assert "stored 9 runs (18 jobs) from 3 file(s)" in result.stderr
    assert "2 failed" in result.stderr
    assert count(database, "run_attempts") == 9


def test_ingest_is_idempotent_and_speaks_trunk(
    settings: Settings, database: Database, tmp_path: Path
) -> None:
    run(settings, "orgs", "create", "acme")
    path = tmp_path / "events.json"
    path.write_text(json.dumps(TRUNK_EXAMPLE))
    for _ in range(2):
        result = run(settings, "ingest", str(path), "--format", "trunk", "--org", "acme")
        assert result.exit_code == 0, result.stderr
        assert "stored 2 events" in result.stderr
        # The spec example's finishedAt is before its createdAt: stored, and said so.
        assert f"{path}: warning: events[1].finishedAt: " in result.stderr
        assert "; 1 stored with 2 warnings" in result.stderr
    assert count(database, "run_attempts") == 2


def test_ingest_respects_plan_limits(
    settings: Settings, database: Database, tmp_path: Path
) -> None:
    run(settings, "orgs", "create", "acme")
    run(settings, "orgs", "set-limits", "acme", "--max-runs-per-month", "2")
    path = tmp_path / "runs.json"
    path.write_text(json.dumps([runwatch_run(run_id=i) for i in range(3)]))
    result = run(settings, "ingest", str(path), "--format", "runwatch", "--org", "acme")
    assert result.exit_code == 1
    assert "max_runs_per_month is 2" in result.stderr
    assert count(database, "run_attempts") == 2


@pytest.mark.parametrize("url", ["mysql://x", "nonsense"])
def test_bad_database_url_is_a_clear_error(url: str) -> None:
    result = CliRunner().invoke(cli, ["--database-url", url, "orgs", "list"])
    assert result.exit_code == 2
    assert "database_url: must start with sqlite:/// or postgresql://" in result.stderr
    assert "Value error" not in result.stderr


def test_migrate_is_idempotent(settings: Settings) -> None:
    for _ in range(2):
        result = run(settings, "migrate")
        assert result.exit_code == 0
        assert "is up to date" in result.stderr


def test_an_unmigrated_database_is_named_as_such(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["--database-url", f"sqlite:///{tmp_path / 'new.db'}", "orgs", "list"]
    )
    assert result.exit_code == 1
    assert "no cipulse schema yet: run `cipulse migrate`" in result.stderr


def test_messages_about_a_missing_or_empty_database_name_its_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``./cipulse.db`` is another file in every folder: say which one was read."""
    monkeypatch.delenv("CIPULSE_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    where = str(tmp_path / "cipulse.db")
    runner = CliRunner()
    unmigrated = runner.invoke(cli, ["keys", "create", "--org", "default"])
    assert f"the database {where} has no cipulse schema yet" in unmigrated.stderr
    assert f"database {where} is up to date" in runner.invoke(cli, ["migrate"]).stderr
    missing = runner.invoke(cli, ["keys", "create", "--org", "default"])
    assert missing.exit_code == 1
    assert "no organisation named 'default'" in missing.stderr
    assert f"(database: {where})" in missing.stderr
    for command, what in (
        (["orgs", "list"], "organisations"),
        (["keys", "list"], "API keys"),
        (["users", "list"], "users"),
    ):
        listed = runner.invoke(cli, command)
        assert f"no {what} in the database {where}" in listed.stderr, command


@pytest.mark.parametrize("workers", ["0", "2"])
def test_ingest_with_or_without_worker_processes(
    settings: Settings, database: Database, tmp_path: Path, workers: str
) -> None:
    run(settings, "orgs", "create", "acme")
    path = tmp_path / "runs.jsonl"
    path.write_text("\n".join(json.dumps(runwatch_run(run_id=i)) for i in range(2500)) + "\n")
    result = run(
        settings, "ingest", str(path), "--format", "runwatch", "--org", "acme", "--workers", workers
    )
    assert result.exit_code == 0, result.stderr
    assert "stored 2500 runs (5000 jobs)" in result.stderr
    assert (count(database, "run_attempts"), count(database, "jobs")) == (2500, 5000)


def test_a_sqlite_path_in_a_missing_directory_is_named(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nowhere' / 'cipulse.db'}"
    result = CliRunner().invoke(cli, ["--database-url", url, "migrate"])
    assert result.exit_code == 1
    assert f"the directory {tmp_path / 'nowhere'} does not exist" in result.stderr


def test_repos_list_and_set_default_branch(settings: Settings, tmp_path: Path) -> None:
    run(settings, "orgs", "create", "acme")
    payload = tmp_path / "run.json"
    payload.write_text(json.dumps(runwatch_run(repository="acme/lib", branch="develop")))
    assert (
        run(settings, "ingest", str(payload), "--format", "runwatch", "--org", "acme").exit_code
        == 0
    )
    listing = run(settings, "repos", "list", "--org", "acme")
    assert listing.exit_code == 0
    assert listing.stdout.splitlines()[1].split()[:5] == [
        "acme/lib",
        "github.com",
        "main",
        "or",
        "master",
    ]
    named = run(settings, "repos", "set-default-branch", "acme/LIB", "develop", "--org", "acme")
    assert named.exit_code == 0, named.stderr
    assert named.stderr.strip() == "the default branch of acme/LIB is now develop"
    relisted = run(settings, "repos", "list", "--org", "acme").stdout.splitlines()
    assert relisted[1].split()[2] == "develop"
    unknown = run(settings, "repos", "set-default-branch", "acme/nope", "x", "--org", "acme")
    assert unknown.exit_code == 1
    assert "no repository named 'acme/nope'" in unknown.stderr
    reset = run(settings, "repos", "set-default-branch", "acme/lib", "", "--org", "acme")
    assert reset.stderr.strip() == "the default branch of acme/lib is now main or master"
