"""The kept per-pull-request figures (``pull_request_figures``) stay equal to a computation
from the raw attempts, on SQLite and PostgreSQL: after ingest, after a re-post that moves an
attempt to another pull request, after GitLab retry rounds and job webhooks, after a purge's
deletion, and after a rebuild from scratch (the migration's backfill)."""

from __future__ import annotations

import copy
import json
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient

from cipulse.accounts.service import AccountService
from cipulse.domain.pull_requests import PullRequestAttempt, PullRequestKey, figures_of
from cipulse.storage import pull_request_figures, retention
from cipulse.storage.database import Database
from cipulse.storage.schema import pull_request_figures as table
from cipulse.storage.schema import run_attempts
from tests.builders import real_fixture
from tests.conftest import rows
from tests.test_pull_requests import RUNS
from tests.webhooks import Hooked, hooked_org, post_github, post_gitlab, sequence

Rows = dict[tuple[str, str, int], dict[str, Any]]
COLUMNS = [column.name for column in table.columns]


def from_raw(database: Database) -> Rows:
    """Every pull request's row, computed here from the stored attempts."""
    grouped: dict[tuple[str, PullRequestKey], list[PullRequestAttempt]] = {}
    for row in rows(database, "run_attempts"):
        if row["pull_request_number"] is None:
            continue
        key = PullRequestKey(str(row["repository_id"]), int(row["pull_request_number"]))
        attempt = PullRequestAttempt(*(row[name] for name in PullRequestAttempt._fields))
        grouped.setdefault((str(row["org_id"]), key), []).append(attempt)
    found: Rows = {}
    for (org_id, key), attempts in grouped.items():
        values = dict(
            zip(
                COLUMNS,
                pull_request_figures.row_of(org_id, figures_of(key, attempts)),
                strict=False,
            )
        )
        values["authors"] = json.loads(str(values["authors"]))
        found[(org_id, key.repository_id, key.number)] = values
    return found


def kept(database: Database) -> Rows:
    return {
        (str(row["org_id"]), str(row["repository_id"]), int(row["number"])): {
            name: str(row[name]) if name.endswith("_id") else row[name] for name in COLUMNS
        }
        for row in rows(database, "pull_request_figures")
    }


def assert_consistent(database: Database) -> None:
    assert kept(database) == from_raw(database)


def _post(client: TestClient, key: str, run: dict[str, Any]) -> None:
    response = client.post("/api/v1/ingest", json=run, headers={"X-API-Key": key})
    assert response.status_code == 200, response.text


def test_kept_figures_equal_the_raw_computation(client: TestClient, database: Database) -> None:
    org = hooked_org(database)
    key = AccountService(database).create_key(org.name, scopes=("ingest",)).key
    for run in RUNS:
        _post(client, key, run)
    assert len(kept(database)) == 3
    assert_consistent(database)

    # A re-post moves run 1's retry from PR 7 to PR 8, with another duration.
    moved = copy.deepcopy(RUNS[1])
    moved.update(pull_request_number=8, duration_seconds=42)
    _post(client, key, moved)
    assert_consistent(database)
    (eight,) = [v for k, v in kept(database).items() if k[2] == 8]
    assert (eight["runs"], eight["attempts"], eight["reruns"]) == (2, 2, 1)

    # Real deliveries: a GitHub run with a pull request, GitLab's merge request pipeline,
    # and CIMonitor's recorded GitLab pipeline with its jobs (no merge request).
    github = real_fixture("github-workflow_run.completed.with-pull-requests.json")
    assert post_github(client, org.name, "workflow_run", github).is_success
    assert post_gitlab(
        client, org.name, "Pipeline Hook", real_fixture("gitlab-docs.pipeline-event.json")
    ).is_success
    for delivery in sequence("gitlab-pipeline"):
        assert post_gitlab(client, org.name, delivery.event, delivery.body).is_success
    assert_consistent(database)

    # A purge deletes PR 8's attempts: its row goes; PR 7's stays as its attempts say.
    with database.write() as conn:
        ids = (
            conn.execute(
                sa.select(run_attempts.c.id).where(run_attempts.c.pull_request_number == 8)
            )
            .scalars()
            .all()
        )
        retention.delete_attempts(conn, org_id_of(database, org), [str(i) for i in ids])
    assert not [k for k in kept(database) if k[2] == 8]
    assert_consistent(database)

    # Rebuilt from scratch (the migration's backfill), the rows are the same.
    before = kept(database)
    with database.write() as conn:
        pull_request_figures.recompute_organisation(conn, org_id_of(database, org))
    assert kept(database) == before


def org_id_of(database: Database, org: Hooked) -> str:
    (found,) = rows(database, "organisations", name=org.name)
    return str(found["id"])
