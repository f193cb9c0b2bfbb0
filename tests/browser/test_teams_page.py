"""The Teams page and the settings page's Teams section in real headless Chromium against a
real server, on SQLite and PostgreSQL: the figures worked out by hand in tests/test_teams.py
show ranked by CI time, a team's name opens the overview narrowed to it, an admin pastes a
CODEOWNERS file and adds and removes a rule; axe-core finds no violation on either page."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from cipulse.accounts.teams import TeamService
from cipulse.settings import Settings
from tests.browser.served import served_organisation
from tests.browser.test_every_screen import axe_violations
from tests.browser.test_runs_page import page, sign_in
from tests.test_branch_scope import DATASET

__all__ = ["page"]  # a fixture, used by name
EMAIL = "ada@example.com"
PASSWORD = "correct horse battery"
RANGE = "since=2024-01-01&until=2024-01-07"


@pytest.fixture
def server(settings: Settings) -> Iterator[str]:
    with served_organisation(
        settings,
        DATASET,
        EMAIL,
        PASSWORD,
        prepare=lambda database: TeamService(database).add_rule(
            "acme", "repository", "acme/lib", "Platform"
        ),
    ) as url:
        yield url


def test_teams_page_and_settings(server: str, page: Page) -> None:
    sign_in(page, server, EMAIL, PASSWORD)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    section = page.locator("section#teams")
    section.get_by_label("Repository", exact=True).fill("acme/app")
    section.get_by_label("or paste it").fill("# app\n* @acme/app-team\n")
    section.get_by_role("button", name="Import CODEOWNERS").click()
    expect(page.get_by_role("status")).to_contain_text(
        "1 rules for acme/app; teams: @acme/app-team"
    )
    section = page.locator("section#teams")
    expect(section.locator('tr[data-codeowners="acme/app"]')).to_contain_text("1 rules")
    section.locator("#rule-kind").select_option("job")
    section.get_by_label("Pattern", exact=True).fill("lint*")
    section.get_by_label("Team", exact=True).fill("Linters")
    section.get_by_role("button", name="Add rule").click()
    expect(page.locator('tr[data-rule="job:lint*"]')).to_contain_text("Linters")
    assert axe_violations(page) == []
    page.get_by_role("button", name="Remove the job rule lint*").click()
    expect(page.locator('tr[data-rule="job:lint*"]')).to_have_count(0)

    page.goto(f"{server}/teams?{RANGE}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Teams")
    rows = page.locator('table[data-table="teams"] tbody tr')
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_have_attribute("data-team", "@acme/app-team")
    expect(rows.nth(0).locator('[data-field="compute_seconds"]')).to_contain_text("10m 10s")
    expect(rows.nth(0).locator('[data-field="failure_rate"]')).to_contain_text("37.5%")
    expect(rows.nth(1).locator('[data-field="red_seconds"]')).to_contain_text("24h 01m")
    expect(rows.nth(2)).to_contain_text("No team")
    assert axe_violations(page) == []

    rows.nth(1).get_by_role("link", name="Platform").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Overview")
    expect(page.locator('.kpi[data-metric="runs"] [data-value]')).to_have_text("6")
    expect(page.locator(".change-filter")).to_contain_text("team Platform")
    page.get_by_role("link", name="Every team").click()
    expect(page.locator('.kpi[data-metric="runs"] [data-value]')).to_have_text("14")

    # The filter bar's team picker: the teams the rules name, and "No team".
    bar = page.locator("form[data-filters]").first
    picker = bar.locator('select[name="team"]')
    expect(picker).to_be_visible()
    options = picker.locator("option").all_text_contents()
    assert options == ["Every team", "@acme/app-team", "Platform", "No team"]
    picker.select_option("Platform")
    bar.get_by_role("button", name="Apply").click()
    expect(page.locator('.kpi[data-metric="runs"] [data-value]')).to_have_text("6")
    assert "team=Platform" in page.url
    expect(page.locator('form[data-filters] select[name="team"]')).to_have_value("Platform")
    assert axe_violations(page) == []
    # Carried in links like the other filters: the Pipelines page keeps it.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Pipelines").click()
    assert "team=Platform" in page.url
    expect(page.locator(".change-filter")).to_contain_text("team Platform")
