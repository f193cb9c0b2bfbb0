"""cipulse report junit: globs, the run from the CI's environment, real HTTP."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from cipulse.cli.main import cli
from cipulse.reporters.junit_upload import RunTarget, target_from
from cipulse.settings import Settings
from cipulse.storage.database import Database
from tests.conftest import Tenant, count, rows
from tests.servers import threaded_server

REAL = Path(__file__).parent / "fixtures" / "real" / "junit"
#: The environment of a CI step, emptied of what would change the target.
CLEAN_ENV = {
    name: ""
    for name in (
        "GITHUB_ACTIONS",
        "GITLAB_CI",
        "CIPULSE_URL",
        "CIPULSE_API_KEY",
        "GITHUB_REPOSITORY",
        "GITHUB_RUN_ID",
        "GITHUB_RUN_ATTEMPT",
        "GITHUB_JOB",
    )
}


def report_junit(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(
        cli, ["report", "junit", *args], env={**CLEAN_ENV, **(env or {})}, catch_exceptions=False
    )


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    """A checkout's report folder: two reports in sub-folders, and a file that is not one."""
    for name, folder in (
        ("pytest-9.2-rerunfailures-16.7.xml", "python"),
        ("surefire-3.0.2-flakyFailure.xml", "java/target/surefire-reports"),
    ):
        (tmp_path / folder).mkdir(parents=True)
        shutil.copy(REAL / name, tmp_path / folder / name)
    (tmp_path / "notes.txt").write_text("not a report")
    return tmp_path


@pytest.fixture
def served(settings: Settings) -> Iterator[str]:
    with threaded_server(settings) as base_url:
        yield base_url


def test_globs_and_dry_run(reports: Path) -> None:
    result = report_junit(
        str(reports / "**" / "*.xml"),
        "--run-id",
        "7",
        "--provider",
        "other",
        "--repository",
        "acme/app",
        "--dry-run",
    )
    assert result.exit_code == 0, result.output
    assert "2 reports, 11 test cases" in result.output


def test_sends_reports_once(served: str, tenant: Tenant, database: Database, reports: Path) -> None:
    args = (
        str(reports / "**" / "*.xml"),
        "--provider",
        "other",
        "--repository",
        "acme/app",
        "--run-id",
        "7",
        "--job",
        "unit",
        "--url",
        served,
    )
    first = report_junit(*args, env={"CIPULSE_API_KEY": tenant.key})
    assert first.exit_code == 0, first.output
    answer = json.loads(first.output.splitlines()[1])
    assert (answer["reports"], answer["stored"], answer["waiting_for_run"]) == (2, 11, True)
    again = report_junit(*args, env={"CIPULSE_API_KEY": tenant.key})
    assert json.loads(again.output.splitlines()[1])["duplicates"] == 11
    assert count(database, "test_results") == 11
    assert {r["job_name"] for r in rows(database, "test_reports")} == {"unit"}


def test_a_bad_report_is_named_before_anything_is_sent(tmp_path: Path) -> None:
    (tmp_path / "bad.xml").write_text("<testsuite>")
    result = report_junit(str(tmp_path / "*.xml"), "--run", "x", "--dry-run")
    assert result.exit_code == 2
    assert f"error: {tmp_path / 'bad.xml'}: not well-formed XML" in result.output
    missing = report_junit(str(tmp_path / "none" / "*.xml"), "--run", "x", "--dry-run")
    assert (missing.exit_code, missing.output.strip()) == (
        2,
        f"error: {tmp_path / 'none' / '*.xml'}: no file matches",
    )


def test_the_run_from_the_ci_environment() -> None:
    github = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_REPOSITORY": "acme/app",
        "GITHUB_RUN_ID": "123",
        "GITHUB_RUN_ATTEMPT": "2",
        "GITHUB_JOB": "test",
    }
    assert target_from(github, RunTarget()).parameters() == {
        "provider": "github",
        "repository": "acme/app",
        "run_id": "123",
        "run_attempt": "2",
        "job": "test",
    }
    gitlab = {
        "GITLAB_CI": "true",
        "CI_PROJECT_PATH": "g/p",
        "CI_PIPELINE_ID": "9",
        "CI_JOB_NAME": "rspec",
    }
    assert target_from(gitlab, RunTarget(job="unit")).parameters() == {
        "provider": "gitlab",
        "repository": "g/p",
        "run_id": "9",
        "job": "unit",
    }
    assert target_from({}, RunTarget(pipeline_run_id="x")).parameters() == {"pipeline_run_id": "x"}


INTEGRATIONS = Path(__file__).parent.parent / "integrations"


def test_the_github_action_sends_junit_reports_given_globs() -> None:
    action = yaml.safe_load((INTEGRATIONS / "github-action" / "action.yml").read_text())
    assert action["inputs"]["junit"]["default"] == ""
    step = action["runs"]["steps"][-1]
    assert step["env"]["INPUT_JUNIT"] == "${{ inputs.junit }}"
    assert 'args=(report junit --retries "$INPUT_RETRIES" "${reports[@]}")' in step["run"]


def test_the_gitlab_junit_component_sends_the_reports_after_the_script() -> None:
    text = (INTEGRATIONS / "gitlab" / "templates" / "cipulse-junit.yml").read_text()
    header, jobs = yaml.safe_load_all(text)
    inputs = header["spec"]["inputs"]
    assert set(re.findall(r"\$\[\[ inputs\.([\w-]+) \]\]", text)) == set(inputs)
    assert {name for name, spec in inputs.items() if "default" not in spec} == {"url", "package"}
    (job,) = jobs.values()
    assert any("cipulse report junit" in line for line in job["after_script"])
