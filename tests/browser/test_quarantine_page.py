"""The Quarantine page and the run page's failed tests in real headless Chromium against a
real server, on SQLite and PostgreSQL: a run's JUnit report shows its failed tests with
their messages' first line; a member quarantines a test by hand, sees it listed with its
owner and the change, and releases it; axe-core finds no violation on either page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from cipulse.accounts.service import AccountService
from cipulse.accounts.teams import TeamService
from cipulse.settings import Settings
from cipulse.storage.database import Database
from tests.browser.served import served_organisation
from tests.browser.test_every_screen import axe_violations
from tests.browser.test_runs_page import page, sign_in
from tests.builders import RUNWATCH_EXAMPLE

__all__ = ["page"]  # a fixture, used by name
EMAIL = "ada@example.com"
PASSWORD = "correct horse battery"
REPORT = (
    Path(__file__).parents[1] / "fixtures" / "real" / "junit" / "pytest-9.2-rerunfailures-16.7.xml"
).read_bytes()
RUN = {"provider": "github", "repository": "acme/cool-project", "run_id": "789012345"}


@pytest.fixture
def server(settings: Settings) -> Iterator[str]:
    keys: list[str] = []

    def prepare(database: Database) -> None:
        keys.append(AccountService(database).create_key("acme", scopes=("ingest",)).key)
        TeamService(database).add_rule("acme", "pipeline", "CI Pipeline", "Shop team")

    with served_organisation(settings, [RUNWATCH_EXAMPLE], EMAIL, PASSWORD, prepare=prepare) as url:
        sent = httpx.post(
            f"{url}/api/v1/test-results",
            content=REPORT,
            params={**RUN, "job": "test"},
            headers={"X-API-Key": keys[0], "Content-Type": "application/xml"},
        )
        assert sent.status_code == 200, sent.text
        yield url


def test_failed_tests_and_quarantine(server: str, page: Page) -> None:
    sign_in(page, server, EMAIL, PASSWORD)
    page.goto(f"{server}/runs?since=2024-01-01&until=2024-02-01")
    page.locator('table a[href*="/runs/"]').first.click()
    section = page.locator('section[data-section="failed-tests"]')
    expect(section.get_by_role("heading", name="Failed tests")).to_be_visible()
    rows = section.locator('table[data-table="failed-tests"] tbody tr')
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_have_attribute(
        "data-test", "tests.test_shop.TestBasket::test_discount_is_wrong"
    )
    expect(rows.nth(0)).to_contain_text("AssertionError: discount not applied")
    expect(rows.nth(1)).to_contain_text("error")
    assert axe_violations(page) == []

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Quarantine").click()
    page.locator("#quarantine-repository").select_option("acme/cool-project")
    page.get_by_role("button", name="Show").click()
    expect(page.locator('[data-field="count"]')).to_have_text("0 tests")
    page.get_by_label("Tests to quarantine").fill("tests.test_shop::test_flaky_network\n")
    page.get_by_label("Why").fill("fails one run in ten")
    page.get_by_role("button", name="Quarantine").click()
    row = page.locator('tr[data-test="tests.test_shop::test_flaky_network"]')
    expect(row).to_contain_text("Shop team")
    expect(row).to_contain_text("fails one run in ten")
    expect(row).to_contain_text(EMAIL)
    history = page.locator('table[data-table="quarantine-history"] tbody tr')
    expect(history).to_have_count(1)
    assert axe_violations(page) == []
    page.get_by_role("button", name="Release tests.test_shop::test_flaky_network").click()
    expect(row).to_have_count(0)
    expect(history).to_have_count(2)
    expect(history.nth(0)).to_contain_text("removed")
