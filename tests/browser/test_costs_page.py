"""Costs in real headless Chromium against a real server, on SQLite and PostgreSQL: an admin
sets a rate on the settings page (and a bad one is refused, naming each field), then the run
page shows the run's cost and each job's; axe-core finds no violation on either page."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from cipulse.accounts.rates import RateService
from cipulse.accounts.service import AccountService
from cipulse.accounts.users import UserService
from cipulse.settings import Settings
from cipulse.storage.database import Database
from tests.browser.test_every_screen import axe_violations
from tests.browser.test_runs_page import page, sign_in
from tests.builders import runwatch_run
from tests.servers import threaded_server

__all__ = ["page"]  # a fixture, used by name
pytestmark = pytest.mark.browser
EMAIL = "ada@example.com"
PASSWORD = "correct horse battery"
WINDOW = "since=2026-01-01&until=2026-02-01"


@pytest.fixture
def server(settings: Settings) -> Iterator[str]:
    database = Database(settings)
    try:
        accounts = AccountService(database)
        accounts.create_organisation("acme")
        key = accounts.create_key("acme").key
        UserService(database).create_user(EMAIL, "acme", PASSWORD)
        RateService(database).load_defaults("acme")
    finally:
        database.dispose()
    run = runwatch_run(
        started_at="2026-01-05T10:00:00Z",
        completed_at="2026-01-05T10:05:00Z",
        jobs=[
            # 61 s on ubuntu-latest: 2 minutes at $0.006 = $0.012
            {"name": "build", "status": "success", "duration_seconds": 61,
             "started_at": "2026-01-05T10:00:00Z", "runner_labels": ["ubuntu-latest"]},
            # on the organisation's own GPU runners: priced once the admin sets a rate
            {"name": "train", "status": "success", "duration_seconds": 120,
             "started_at": "2026-01-05T10:01:00Z", "runner_labels": ["self-hosted", "gpu"]},
        ],
    )  # fmt: skip
    with threaded_server(settings) as url:
        posted = httpx.post(f"{url}/api/v1/ingest", json=run, headers={"X-API-Key": key})
        assert posted.is_success, posted.text
        yield url


def open_run(page: Page, server: str) -> None:
    page.goto(f"{server}/runs?{WINDOW}")
    page.locator('table[data-table="runs"] tbody tr').first.locator("td").first.get_by_role(
        "link"
    ).click()


def test_an_admin_prices_the_gpu_runners_and_the_run_shows_its_cost(
    server: str, page: Page
) -> None:
    sign_in(page, server, EMAIL, PASSWORD)
    open_run(page, server)
    expect(page.locator('dd[data-field="cost"]')).to_have_text("unknown")
    expect(page.locator('[data-field="unpriced"]')).to_contain_text("train")
    assert axe_violations(page) == []

    page.goto(f"{server}/settings#rates")
    rates = page.locator("section#rates")
    rates.get_by_label("Provider").fill("github")
    rates.get_by_label("Label set or pattern").fill("*gpu*")
    rates.get_by_label("Price a minute").fill("-1")
    rates.get_by_role("button", name="Set rate").click()
    expect(page.get_by_text("price: must not be negative")).to_be_visible()

    page.goto(f"{server}/settings#rates")
    rates = page.locator("section#rates")
    rates.get_by_label("Provider").fill("github")
    rates.get_by_label("Label set or pattern").fill("*gpu*")
    rates.get_by_label("Price a minute").fill("0.05")
    rates.get_by_role("button", name="Set rate").click()
    expect(page.locator('tr[data-rate="github *gpu* 1970-01-01"]')).to_be_visible()
    assert axe_violations(page) == []

    open_run(page, server)
    # 0.012 + 2 minutes at 0.05 = 0.112
    expect(page.locator('dd[data-field="cost"]')).to_have_text("0.112 USD")
    expect(page.locator('tr[data-job-cost="train"]')).to_contain_text("0.10")
    assert axe_violations(page) == []
