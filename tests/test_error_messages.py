"""Errors that name their cause, each met for real: a closed port on loopback, a role and a
database that do not exist on the test server (never created), a text file as the SQLite
database, invalid settings and parameters. On the command line: one line, "retry later" only
when retrying can help. Over HTTP: the client gets 503 with `Retry-After`; the cause goes to
`/healthz` and to the log."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from starlette.testclient import TestClient

from cipulse.accounts.service import AccountService
from cipulse.cli.main import cli
from cipulse.settings import Settings
from cipulse.web.app import create_app
from tests.builders import runwatch_run
from tests.conftest import POSTGRES_ADMIN_URL
from tests.fake_ci_apis import GITHUB_TOKEN, fake_ci_apis, github_run
from tests.servers import free_port

ADMIN = sa.make_url(POSTGRES_ADMIN_URL)
WHERE = f"{ADMIN.host}:{ADMIN.port or 5432}"
NOBODY = f"cipulse_nosuch_{uuid.uuid4().hex[:8]}"  # neither a role nor a database


def broken_postgres() -> list[tuple[str, str]]:
    """(URL, what `cipulse` says about it)."""
    port = free_port()  # bound and closed again: nothing listens on it
    closed = ADMIN.set(port=port).render_as_string(hide_password=False)
    no_role = ADMIN.set(username=NOBODY, password=None).render_as_string(hide_password=False)
    no_database = ADMIN.set(database=NOBODY).render_as_string(hide_password=False)
    return [
        (closed, f"connection refused at {ADMIN.host}:{port}; retry later"),
        (no_role, f"authentication failed for user {NOBODY} at {WHERE}: no such role"),
        (no_database, f"database {NOBODY} does not exist at {WHERE}"),
    ]


BROKEN = broken_postgres()


@pytest.mark.parametrize(("url", "cause"), BROKEN, ids=["closed-port", "no-role", "no-database"])
def test_the_cli_names_why_postgresql_refused(url: str, cause: str) -> None:
    result = CliRunner().invoke(cli, ["--database-url", url, "orgs", "list"])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [f"error: database unavailable: {cause}"]


@pytest.mark.parametrize(("url", "cause"), BROKEN, ids=["closed-port", "no-role", "no-database"])
def test_over_http_the_cause_is_in_health_and_the_log(
    url: str, cause: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    settings = Settings(database_url=url, bootstrap_org="", rollup_interval_seconds=0)
    with TestClient(create_app(settings)) as client:
        answer = client.post(
            "/functions/v1/ingest", json=runwatch_run(), headers={"X-API-Key": "k"}
        )
        assert (answer.status_code, answer.headers["retry-after"]) == (503, "5")
        assert answer.json() == {
            "error": "database unavailable, retry later",
            "code": "unavailable",
        }  # no address
        health = client.get("/healthz")
        assert health.status_code == 503
        assert health.json()["checks"]["read"] == cause.removesuffix("; retry later")
    [logged] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert logged.getMessage() == (
        f"database unavailable: {cause.removesuffix('; retry later')}; "
        "answering 503 until it recovers"
    )


@pytest.mark.parametrize("command", ["orgs", "migrate", "serve"])
def test_a_file_that_is_not_a_sqlite_database_is_one_line(tmp_path: Path, command: str) -> None:
    text = tmp_path / "notes.db"
    text.write_text("these are my notes, not a database\n")
    args = ["orgs", "list"] if command == "orgs" else [command]
    result = subprocess.run(
        [sys.executable, "-m", "cipulse", *args],
        env={**os.environ, "CIPULSE_DATABASE_URL": f"sqlite:///{text}"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [f"error: database_url: {text} is not a SQLite database"]


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"CIPULSE_PORT": "99999"}, "port: must be <= 65535"),
        ({"CIPULSE_WORKERS": "two"}, "workers: must be an integer"),
        ({"CIPULSE_SECURE_COOKIES": "yes"}, "secure_cookies: must be one of auto, always, never"),
        (
            {"CIPULSE_DATABASE_URL": "mysql://x"},
            "database_url: must start with sqlite:/// or postgresql:// (got 'mysql')",
        ),
    ],
)
def test_invalid_settings_are_said_in_our_words(variables: dict[str, str], message: str) -> None:
    result = CliRunner().invoke(cli, ["migrate"], env=variables)
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == f"Error: invalid setting: {message}"


def test_invalid_parameters_are_said_in_our_words(
    client: TestClient, accounts: AccountService
) -> None:
    accounts.create_organisation("acme")
    reader = {"X-API-Key": accounts.create_key("acme", scopes=("read",)).key}
    answer = client.get("/api/v1/analytics/recovery?limit=many", headers=reader)
    assert answer.status_code == 400
    message = answer.json()["error"]
    assert message.startswith("limit: ")
    assert "Input should" not in message and "Value error" not in message


def test_an_unexpected_ci_answer_names_the_fields_not_pydantic() -> None:
    with fake_ci_apis() as fake:
        fake.github_runs[("acme/app", 7, 1)] = github_run(id=7, run_attempt="first")
        result = CliRunner().invoke(
            cli,
            ["report", "github", "--run-id", "7", "--dry-run"],
            env={
                "GITHUB_API_URL": fake.github_api,
                "GITHUB_REPOSITORY": "acme/app",
                "GITHUB_TOKEN": GITHUB_TOKEN,
                "CIPULSE_URL": fake.url,
                "CIPULSE_API_KEY": "k",
            },
        )
    assert result.exit_code == 4, result.output
    assert "missing or not as documented: run_attempt" in result.stderr
    assert "Input should" not in result.stderr
