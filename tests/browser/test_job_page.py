"""A job's page and the Jobs page's search in real headless Chromium against a real server,
on SQLite and PostgreSQL: the search narrows the list and keeps the time range, a job's name
(with a slash, spaces, unicode and %) links to its page through the real server, the page
shows its figures, failures by class and latest failures, each linking to its run; axe-core
finds no violation on either page."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from cipulse.settings import Settings
from tests.browser.conftest import save_screenshot
from tests.browser.served import served_organisation
from tests.browser.test_every_screen import axe_violations
from tests.browser.test_runs_page import page, sign_in
from tests.test_job_page import DATASET, ODD

__all__ = ["page"]  # a fixture, used by name
EMAIL = "grace@example.com"
PASSWORD = "correct horse battery"
RANGE = "since=2024-01-01&until=2024-01-07"


@pytest.fixture
def server(settings: Settings) -> Iterator[str]:
    with served_organisation(
        settings, DATASET, EMAIL, PASSWORD, path="/functions/v1/ingest"
    ) as url:
        yield url


def test_search_jobs_then_open_one(server: str, page: Page) -> None:
    sign_in(page, server, EMAIL, PASSWORD)
    page.goto(f"{server}/jobs?{RANGE}")
    rows = page.locator('table[data-table="jobs"] tbody tr')
    expect(rows).to_have_count(2)
    assert axe_violations(page) == []

    # The search narrows the list and keeps the time range.
    page.get_by_label("Job name").fill("ÜNÏ")
    page.get_by_role("button", name="Search").click()
    expect(rows).to_have_count(1)
    assert "since=2024-01-01" in page.url
    page.get_by_label("Job name").fill("nothing like it")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("No jobs in this window.")).to_be_visible()
    page.get_by_role("link", name="Clear").click()
    expect(rows).to_have_count(2)
    page.get_by_label("Pipeline").select_option(label="acme/cool-project · CI Pipeline")
    page.get_by_role("button", name="Search").click()
    expect(rows).to_have_count(2)

    # A name with a slash, spaces, unicode and % opens its page through the real server.
    rows.get_by_role("link", name=ODD).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(ODD)
    expect(page.locator('dd[data-field="runs"]')).to_have_text("5")
    expect(page.locator('tr[data-class="timeout"] td').nth(1)).to_have_text("1")
    assert axe_violations(page) == []

    # build: its failures by class, the latest first, each a link to its run.
    page.goto(f"{server}/jobs?{RANGE}")
    rows.get_by_role("link", name="build", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("build")
    expect(page.locator('dd[data-field="failure_count"]')).to_have_text("2")
    expect(page.locator('tr[data-class="infrastructure"] td').nth(1)).to_have_text("1")
    failures = page.locator('table[data-table="latest-failures"] tbody tr')
    expect(failures).to_have_count(3)
    expect(failures.nth(2)).to_contain_text("infrastructure runner_system_failure")
    expect(page.get_by_role("table").filter(has_text="Branch").first).to_contain_text("main")
    assert axe_violations(page) == []
    save_screenshot(page, "job-page")
    failures.nth(2).get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("CI Pipeline #2")
    # The run page's job names lead back to the job page.
    page.locator('table[data-table="failures"]').get_by_role("link", name="build").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("build")
