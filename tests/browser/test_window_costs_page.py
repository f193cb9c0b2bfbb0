"""The Costs page and the overview's cost cards in real headless Chromium against a real
server, on SQLite and PostgreSQL: the window's cost, waste and unpriced minutes worked out by
hand in tests/test_window_costs.py, the previous window's beside them, the groups ranked by
cost (pipelines, then teams), the sample stated, each team's cost on the Teams page;
axe-core finds no violation."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from cipulse.accounts.rates import RateService, parse_rate
from cipulse.accounts.teams import TeamService
from cipulse.settings import Settings
from cipulse.storage.database import Database
from tests.browser.served import ORGANISATION, served_organisation
from tests.browser.test_every_screen import axe_violations
from tests.browser.test_runs_page import page, sign_in
from tests.test_window_costs import DATASET, SMALL, UBUNTU

__all__ = ["page"]  # a fixture, used by name
pytestmark = pytest.mark.browser
EMAIL = "ada@example.com"
PASSWORD = "correct horse battery"
RANGE = "since=2026-01-01&until=2026-01-07"


def prepare(database: Database) -> None:
    RateService(database).set_rates(
        ORGANISATION,
        [
            parse_rate("github", UBUNTU, "0.008"),
            parse_rate("github", UBUNTU, "0.006", effective="2026-01-02"),
            parse_rate("github", "*gpu*", "0.05", "0.002"),
            parse_rate("gitlab", SMALL, "0.01"),
        ],
    )
    TeamService(database).add_rule(ORGANISATION, "repository", "acme/web", "Web")


@pytest.fixture
def server(settings: Settings) -> Iterator[str]:
    with served_organisation(settings, DATASET, EMAIL, PASSWORD, prepare=prepare) as url:
        yield url


def test_costs_page_and_overview_cards(server: str, page: Page) -> None:
    sign_in(page, server, EMAIL, PASSWORD)
    page.goto(f"{server}/?{RANGE}")
    cards = page.get_by_role("region", name="Cost in USD")
    expect(cards.locator('.kpi[data-metric="cost"] [data-value]')).to_have_text("0.1685 USD")
    expect(cards.locator('.kpi[data-metric="cost"] .previous')).to_contain_text("0.016 USD")
    expect(cards.locator('.kpi[data-metric="waste"] [data-value]')).to_have_text("0.039 USD")
    expect(cards.locator('.kpi[data-metric="unpriced_minutes"] [data-value]')).to_have_text(
        "2.5 min"
    )
    assert axe_violations(page) == []

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Costs").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Costs")
    expect(page.locator('[data-field="sample"]')).to_contain_text("Over 9 job executions")
    rows = page.locator('table[data-table="costs"] tbody tr')
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_have_attribute("data-group", "CI")
    expect(rows.nth(0).locator('[data-field="cost"]')).to_contain_text("0.146 USD")
    expect(rows.nth(0).locator('[data-field="waste"]')).to_contain_text("0.024 USD")
    expect(rows.nth(1).locator('[data-field="unpriced_minutes"]')).to_contain_text("0.5 min")
    expect(rows.nth(0).locator('[data-field="billed_minutes"]')).to_contain_text("10 min")
    assert axe_violations(page) == []

    page.get_by_role("navigation", name="Group costs by").get_by_role("link", name="Teams").click()
    rows = page.locator('table[data-table="costs"] tbody tr')
    expect(rows.nth(0)).to_have_attribute("data-group", "Web")
    expect(rows.nth(1)).to_contain_text("No team")
    expect(rows.nth(1).locator('[data-field="cost"]')).to_contain_text("0.0225 USD")
    assert axe_violations(page) == []

    page.goto(f"{server}/teams?{RANGE}")
    web = page.locator('table[data-table="teams"] tr[data-team="Web"]')
    expect(web.locator('[data-field="cost"]')).to_contain_text("0.146 USD")
    expect(web.locator('[data-field="cost"]')).to_contain_text("+ 2 min unpriced")
    expect(web.locator('[data-field="cost"]')).to_contain_text("before: 0.016 USD")
    expect(web.locator('[data-field="waste"]')).to_contain_text("0.024 USD")
    assert axe_violations(page) == []
