"""The dashboard's Runs page and the change of a run over HTTP, on SQLite and PostgreSQL:
each run's commit (short SHA and message), author, pull request (linked to its page on the
CI host) and event; the filters by them, the same as the read API's; what CI sent escaped.
(tests/browser/test_runs_page.py drives the same page in Chromium.)"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.testclient import TestClient

from tests.builders import runwatch_run
from tests.conftest import Tenant
from tests.test_dashboard import HOSTILE, ingest, iso, signed_in, users

__all__ = ["signed_in", "users"]  # fixtures, used by name


def changed_runs() -> list[dict[str, Any]]:
    """A pull request's run and a scheduled one, in the last day."""
    now = datetime.now(UTC).replace(microsecond=0)
    common = {"status": "success", "duration_seconds": 60}
    return [
        runwatch_run(
            run_id=501,
            branch="feature/faster-cache",
            started_at=iso(now - timedelta(hours=3)),
            commit_sha="0123456789abcdef0123456789abcdef01234567",
            commit_message="Speed up the cache\n\nIt was slow.",
            commit_author="Grace Hopper",
            pull_request_number=42,
            pull_request_title="Faster cache",
            pull_request_url="https://github.com/acme/cool-project/pull/42",
            pull_request_source_branch="feature/faster-cache",
            pull_request_target_branch="main",
            event="pull_request",
            **common,
        ),
        runwatch_run(
            run_id=502,
            branch="main",
            started_at=iso(now - timedelta(hours=2)),
            commit_sha="fedcba9876543210fedcba9876543210fedcba98",
            commit_message="Nightly",
            commit_author="Ada Lovelace",
            event="schedule",
            **common,
        ),
    ]


def run_rows(html: str) -> list[str]:
    return re.findall(r'<tr data-run="([^"]+)">', html)


def test_the_runs_page_shows_the_change_of_each_run(signed_in: TestClient, tenant: Tenant) -> None:
    ingest(signed_in, tenant, changed_runs())
    page = signed_in.get("/runs")
    assert page.status_code == 200
    assert len(run_rows(page.text)) == 2
    text = page.text
    assert (
        '<span class="mono" title="0123456789abcdef0123456789abcdef01234567">01234567</span>'
        in (text)
    )
    assert "Speed up the cache" in text and "It was slow" not in text
    assert "Grace Hopper" in text and "Ada Lovelace" in text
    assert 'href="https://github.com/acme/cool-project/pull/42"' in text
    assert ">#42</a>" in text and "Faster cache" in text
    assert ">pull request</td>" in text and ">schedule</td>" in text
    # The CSV link holds the same list.
    assert 'href="/api/v1/runs?days=30&amp;format=csv"' in text


def test_the_runs_page_filters_as_the_api_does(signed_in: TestClient, tenant: Tenant) -> None:
    ingest(signed_in, tenant, changed_runs())
    for query, expected in [
        ("commit=0123", 1),
        ("commit=FEDCBA98", 1),
        ("pull_request=%2342", 1),
        ("author=grace", 1),
        ("event_kind=schedule", 1),
        ("branch_contains=FASTER", 1),
        ("author=nobody", 0),
    ]:
        page = signed_in.get(f"/runs?{query}")
        assert page.status_code == 200, query
        assert len(run_rows(page.text)) == expected, query
        api = signed_in.get(f"/api/v1/runs?days=30&{query}").json()["items"]
        assert len(api) == expected, query
        if expected:
            assert f"days=30&amp;{query}&amp;format=csv" in page.text, query
    empty = signed_in.get("/runs?author=nobody")
    assert "No runs in this window match these filters" in empty.text
    bad = signed_in.get("/runs?commit=xyz")
    assert bad.status_code == 400
    assert "commit: must be a commit SHA or its start" in bad.text


def test_the_run_page_and_the_pipeline_page_show_the_change(
    signed_in: TestClient, tenant: Tenant
) -> None:
    ingest(signed_in, tenant, changed_runs())
    run = signed_in.get("/api/v1/runs", params={"pull_request": "42"}).json()["items"][0]
    page = signed_in.get(f"/runs/{run['id']}")
    assert page.status_code == 200
    assert "Speed up the cache" in page.text and "Grace Hopper" in page.text
    assert 'href="https://github.com/acme/cool-project/pull/42"' in page.text
    assert 'feature/faster-cache</span> → <span class="mono">main' in page.text
    pipeline = signed_in.get(f"/pipelines/{run['pipeline_id']}")
    assert "Speed up the cache" in pipeline.text and "Nightly" in pipeline.text


def test_what_ci_sent_about_the_change_is_escaped(signed_in: TestClient, tenant: Tenant) -> None:
    (run, _) = changed_runs()
    run.update(
        commit_message=HOSTILE,
        commit_author=HOSTILE,
        pull_request_title=HOSTILE,
        pull_request_url="javascript:alert(1)",
    )
    ingest(signed_in, tenant, [run])
    for path in ("/runs", f"/runs/{signed_in.get('/api/v1/runs').json()['items'][0]['id']}"):
        text = signed_in.get(path).text
        assert HOSTILE not in text
        assert "&lt;script&gt;" in text
        assert "javascript:alert" not in text
        assert "#42" in text  # the number, unlinked


def test_the_run_page_names_the_failing_job_step_reason_and_class(
    signed_in: TestClient, tenant: Tenant
) -> None:
    """A failed run: its class and reason in its facts, and a panel of the jobs that did not
    succeed, each with its failing step, class and reason; what CI sent is escaped."""
    (run, _) = changed_runs()
    run.update(status="failure", failure_reason="runner_system_failure")
    run["jobs"] = [
        {"name": "lint", "status": "success"},
        {
            "name": "test",
            "status": "failure",
            "failure_reason": "script_failure",
            "failing_step": "Run pytest",
        },
        {"name": HOSTILE, "status": "cancelled", "failing_step": HOSTILE},
    ]
    ingest(signed_in, tenant, [run])
    stored = signed_in.get("/api/v1/runs").json()["items"][0]
    page = signed_in.get(f"/runs/{stored['id']}")
    assert page.status_code == 200
    text = page.text
    assert re.search(r'data-field="failure">.*infrastructure.*runner_system_failure', text)
    assert "Why it failed" in text and "2 jobs did not succeed" in text
    (test_row,) = re.findall(r'<tr data-failed-job="test">(.*?)</tr>', text, re.S)
    assert "Run pytest" in test_row
    assert 'data-class="code">code</span> <span class="mono">script_failure' in test_row
    assert 'data-failed-job="lint"' not in text
    assert HOSTILE not in text
    assert 'data-class="cancelled">cancelled</span> <span class="mono">cancelled' in text


def test_every_page_takes_the_change_filters_and_keeps_them(
    signed_in: TestClient, tenant: Tenant
) -> None:
    """A change filter narrows every page (its figures, CSV links and charts' data) and
    follows the user from page to page until cleared."""
    ingest(signed_in, tenant, changed_runs())
    overview = signed_in.get("/?author=grace")
    assert overview.status_code == 200
    assert "Only runs of author <strong>grace</strong>" in overview.text
    assert 'href="/pipelines?range=30d' not in overview.text
    assert 'href="/pipelines?author=grace"' in overview.text
    assert 'href="/?range=30d"' not in overview.text
    jobs = signed_in.get("/jobs?event_kind=schedule")
    assert jobs.status_code == 200
    assert "/api/v1/analytics/jobs?days=30&amp;event_kind=schedule" in jobs.text
    pipelines = signed_in.get("/pipelines?commit=0123")
    assert pipelines.status_code == 200
    assert "Only runs of commit <strong>0123</strong>" in pipelines.text
    bad = signed_in.get("/?pull_request=abc")
    assert bad.status_code == 400
    assert "pull_request: must be a pull request number" in bad.text
