"""The Runners page and a label set's runners in real headless Chromium against a real
server, on SQLite and PostgreSQL: the figures worked out by hand in tests/test_runners.py
show in the list, each label set has a saturation strip of 24 hours and links to its
runners; axe-core finds no violation on either page."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from cipulse.settings import Settings
from tests.browser.served import served_organisation
from tests.browser.test_every_screen import axe_violations
from tests.browser.test_runs_page import page, sign_in
from tests.test_runners import DATASET

__all__ = ["page"]  # a fixture, used by name
EMAIL = "ada@example.com"
PASSWORD = "correct horse battery"
RANGE = "since=2024-01-01&until=2024-01-07"


@pytest.fixture
def server(settings: Settings) -> Iterator[str]:
    with served_organisation(settings, DATASET, EMAIL, PASSWORD) as url:
        yield url


def test_runners_page_and_a_label_sets_runners(server: str, page: Page) -> None:
    sign_in(page, server, EMAIL, PASSWORD)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Runners").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Runners")
    page.goto(f"{server}/runners?{RANGE}")
    rows = page.locator('table[data-table="runners"] tbody tr')
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_have_attribute("data-label-set", "ubuntu-latest")  # most jobs
    ubuntu = rows.nth(0)
    expect(ubuntu.locator('[data-field="jobs"]')).to_have_text("4")
    expect(ubuntu.locator('[data-field="failure_rate"]')).to_have_text("25.0%")
    expect(ubuntu.locator('[data-field="p95_queue_seconds"]')).to_have_text("30s")
    expect(ubuntu.locator("svg.saturation rect")).to_have_count(24)
    expect(ubuntu.locator("svg.saturation")).to_have_attribute(
        "aria-label", "Busiest at 10:00 UTC, 0.01 runners busy on average"
    )
    expect(page.locator('tr[data-label-set="unknown"]')).to_have_count(1)
    assert axe_violations(page) == []
    ubuntu.get_by_role("link", name="ubuntu-latest").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Runners of ubuntu-latest")
    expect(page.locator('table[data-table="runner-names"] tbody tr')).to_have_count(1)
    assert axe_violations(page) == []
