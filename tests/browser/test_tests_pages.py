"""The Tests page and a test's page in real headless Chromium against a real server, on
SQLite and PostgreSQL: the figures worked out by hand in tests/test_test_figures.py show,
the new failure and the flaky test are apart, a test's page shows its strip, evidence,
messages and runs; axe-core finds no violation on either page."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from cipulse.accounts.service import AccountService
from cipulse.settings import Settings
from cipulse.storage.database import Database
from tests.browser.served import ORGANISATION, served_organisation
from tests.browser.test_every_screen import axe_violations
from tests.browser.test_runs_page import page, sign_in
from tests.builders import runwatch_run
from tests.test_test_figures import REPO, RUNS, case, report

__all__ = ["page"]  # a fixture, used by name
EMAIL = "ada@example.com"
PASSWORD = "correct horse battery"
RANGE = "since=2024-01-10&until=2024-01-20"


def _runs() -> list[dict[str, object]]:
    return [
        runwatch_run(
            run_id=run_id,
            commit_sha=sha,
            started_at=f"2024-01-{day}T10:00:00Z",
            completed_at=f"2024-01-{day}T10:05:00Z",
            jobs=None,
        )
        for run_id, day, sha, _ in RUNS
    ]


@pytest.fixture
def server(settings: Settings) -> Iterator[str]:
    keys: list[str] = []

    def prepare(database: Database) -> None:
        keys.append(AccountService(database).create_key(ORGANISATION, scopes=("ingest",)).key)

    with served_organisation(settings, _runs(), EMAIL, PASSWORD, prepare=prepare) as url:
        for run_id, _, _, cases in RUNS:
            extra = [case("test_&lt;b&gt;&amp;&quot;x&quot;", 5)] if run_id == 1 else []
            answer = httpx.post(
                f"{url}/api/v1/test-results",
                content=report([*cases, *extra]),
                params={"provider": "github", "repository": REPO, "run_id": run_id, "job": "test"},
                headers={"Content-Type": "application/xml", "X-API-Key": keys[0]},
            )
            assert answer.status_code == 200, answer.text
        yield url


def test_tests_page_and_a_tests_page(server: str, page: Page) -> None:
    sign_in(page, server, EMAIL, PASSWORD)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Tests").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Tests")
    page.goto(f"{server}/tests?{RANGE}")
    rows = page.locator('table[data-table="tests"] tbody tr')
    expect(rows).to_have_count(5)
    first = rows.nth(0)
    expect(first.locator(".name a")).to_have_text("test_b")
    expect(first.locator('[data-field="failures"]')).to_have_text("3")
    expect(first.locator('[data-field="failure_rate"]')).to_have_text("100.0%")
    # A name with markup is shown as text, never as markup (here and in Slowest).
    expect(page.get_by_role("link", name='test_<b>&"x"')).to_have_count(2)
    expect(page.locator("td.name b")).to_have_count(0)
    new = page.locator('table[data-table="new-failures"] tbody tr')
    # test_a started failing on run 3 (17 January), test_b on run 1 (15 January); test_d
    # failed once and passed on the same commit: flaky, not a new failure.
    expect(new.locator(".name a")).to_have_text(["test_a", "test_b"])
    expect(page.locator('table[data-table="flakiest"] tbody tr .name a')).to_have_text(["test_c"])
    assert axe_violations(page) == []
    page.get_by_label("Test", exact=True).fill("test_d")
    page.get_by_role("button", name="Search").click()
    expect(rows).to_have_count(1)
    rows.nth(0).locator(".name a").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("test_d")
    expect(page.locator('[data-field="state"]')).to_have_text("flaky")
    expect(page.locator("svg.test-strip rect")).to_have_count(3)
    expect(page.locator('table[data-table="evidence"] tbody tr')).to_have_count(1)
    expect(page.locator('table[data-table="messages"] tbody tr')).to_have_count(1)
    expect(page.locator('table[data-table="history"] tbody tr')).to_have_count(3)
    assert axe_violations(page) == []
