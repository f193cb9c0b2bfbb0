"""The Pull requests page and a pull request's page in real headless Chromium against a real
server, on SQLite and PostgreSQL: the figures computed by hand in tests/test_pull_requests.py
show in the list and the summary, the list sorts by CI time and time to green, a pull
request's page lists its commits and its runs newest first, each linked to its run page;
axe-core finds no violation on either page."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from cipulse.settings import Settings
from tests.browser.served import served_organisation
from tests.browser.test_every_screen import axe_violations
from tests.browser.test_runs_page import page, sign_in
from tests.test_pull_requests import RUNS

__all__ = ["page"]  # a fixture, used by name
EMAIL = "ada@example.com"
PASSWORD = "correct horse battery"
RANGE = "since=2024-03-01&until=2024-03-01"


@pytest.fixture
def server(settings: Settings) -> Iterator[str]:
    with served_organisation(settings, RUNS, EMAIL, PASSWORD) as url:
        yield url


def test_pull_requests_page_and_one_pull_request(server: str, page: Page) -> None:
    sign_in(page, server, EMAIL, PASSWORD)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Pull requests").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Pull requests")
    page.goto(f"{server}/pull-requests?{RANGE}")
    rows = page.locator('table[data-table="pull-requests"] tbody tr')
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("#8")  # the latest run first
    seven = rows.filter(has_text="#7")
    expect(seven.locator('[data-field="authors"]')).to_have_text("Ada, Grace")
    expect(seven.locator('[data-field="ci_seconds"]')).to_have_text("45m 00s")
    expect(seven.locator('[data-field="time_to_green_head_seconds"]')).to_have_text("40m 00s")
    expect(rows.filter(has_text="#8").locator('[data-field="time_to_green_seconds"]')).to_have_text(
        "—"
    )
    summary = page.locator('table[data-table="pull-request-summary"]')
    expect(summary.locator('[data-field="ci_seconds_p90"]')).to_have_text("45m 00s")
    assert axe_violations(page) == []

    page.get_by_role("link", name="CI time").click()  # descending first
    expect(rows.nth(0)).to_contain_text("#7")
    page.get_by_role("link", name="To green (PR)").click()
    expect(rows.nth(0)).to_contain_text("#7")  # unknown last

    seven.get_by_role("link", name="#7 Change 7").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("acme/shop #7")
    expect(page.locator('dd[data-field="time_to_green_seconds"]')).to_have_text("2h 10m")
    expect(page.locator('[data-list="commits"] li')).to_have_count(2)
    runs = page.locator('table[data-table="runs"] tbody tr')
    expect(runs).to_have_count(5)
    expect(runs.nth(0)).to_contain_text("#4")
    expect(runs.nth(4)).to_contain_text("#1")
    assert axe_violations(page) == []
    runs.nth(3).locator("td").first.get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("#1")
