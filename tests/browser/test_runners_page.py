"""The Runners page and a label set's runners in real headless Chromium against a real
server, on SQLite and PostgreSQL: the figures worked out by hand in tests/test_runners.py
show in the list, each label set has a saturation strip of 24 hours and links to its
runners; the charts by hour of day (runners busy per label set, waits) have their tables,
worked out by hand; axe-core finds no violation on either page."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from cipulse.settings import Settings
from tests.browser.served import served_organisation
from tests.browser.test_every_screen import axe_violations
from tests.browser.test_runs_page import page, sign_in
from tests.test_runners import DATASET, OTHER_PIPELINES

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
    expect(ubuntu.locator('[data-field="busiest_hour"]')).to_have_text("peak 10:00 · 0.01 busy")
    expect(page.locator('tr[data-label-set="unknown"]')).to_have_count(1)
    # Busy on an average day of the 7: at 10:00, ubuntu 90 + 61 s, the GPU job 60 s of its
    # 120, the unnamed lint job 30 s.
    busy = chart_table(page, "Runners busy by hour of day (UTC)")
    assert busy[0] == ["Hour of day (UTC)", "ubuntu-latest", "gpu,self-hosted", "unknown"]
    assert busy[11] == ["10:00", "0.00599", "0.00238", "0.00119"]  # 151, 60, 30 / 25,200
    assert len(busy) == 25
    # Queued at 10:xx: 10 s and 200 s (nearest rank: p50 10 s, p95 200 s), in minutes.
    waits = chart_table(page, "Waits by hour of day, every label set (min)")
    assert waits[11] == ["10:00", "0.167 min", "3.33 min"]
    assert axe_violations(page) == []
    page.locator("details.data").first.locator("summary").click()  # the table, shown
    assert axe_violations(page) == []
    ubuntu.get_by_role("link", name="ubuntu-latest").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Runners of ubuntu-latest")
    expect(page.locator('table[data-table="runner-names"] tbody tr')).to_have_count(1)
    # Its own waits: queued at 09:59:30 (30 s), 10:01:50 (10 s), 11:59:40 (20 s).
    own = chart_table(page, "Waits by hour of day, ubuntu-latest (s)")
    assert [own[10], own[11], own[12]] == [
        ["09:00", "30 s", "30 s"],
        ["10:00", "10 s", "10 s"],
        ["11:00", "20 s", "20 s"],
    ]
    assert axe_violations(page) == []


@pytest.fixture
def three_pipelines(settings: Settings) -> Iterator[str]:
    with served_organisation(settings, [*DATASET, *OTHER_PIPELINES], EMAIL, PASSWORD) as url:
        yield url


def test_pipelines_sort_by_wait(three_pipelines: str, page: Page) -> None:
    """The Pipelines page's wait columns sort (tests/test_runners.py has the figures)."""
    sign_in(page, three_pipelines, EMAIL, PASSWORD)
    page.goto(f"{three_pipelines}/pipelines?{RANGE}")
    table = page.locator('table[data-table="pipelines"]')
    table.get_by_role("link", name="p95 wait").click()
    assert "sort=-p95_queue_seconds" in page.url
    expect(table.get_by_role("columnheader", name="p95 wait")).to_have_attribute(
        "aria-sort", "descending"
    )
    rows = table.locator("tbody tr")
    expect(rows.locator("td:first-child a")).to_have_text(["Nightly", "CI Pipeline", "Docs"])
    expect(rows.nth(0).locator('[data-field="p95_queue_seconds"]')).to_have_text("8.3")  # 500 s
    expect(rows.nth(0).locator('[data-field="total_queue_seconds"]')).to_have_text("8.3")
    expect(rows.nth(2).locator('[data-field="total_queue_seconds"]')).to_have_text("—")
    assert axe_violations(page) == []
    table.get_by_role("link", name="Total wait").click()
    assert "sort=-total_queue_seconds" in page.url
    expect(rows.locator("td:first-child a")).to_have_text(["Nightly", "CI Pipeline", "Docs"])


def chart_table(page: Page, title: str) -> list[list[str]]:
    """The rows (header first) of the table a chart titled ``title`` renders as."""
    figure = page.locator("figure.chart-panel").filter(
        has=page.get_by_role("heading", name=title, exact=True)
    )
    expect(figure.locator("div.chart svg").first).to_be_attached()  # ECharts drew it
    rows = figure.locator("table tr")
    return [
        [cell.strip() for cell in rows.nth(i).locator("th, td").all_text_contents()]
        for i in range(rows.count())
    ]
