"""The dashboard in real headless Chromium against a real server, on SQLite and PostgreSQL:
a newcomer signs in, finds the flakiest job, the slowest pipeline and the run that broke main,
changes the time range and filters, opens a run's waterfall, creates and revokes a key; the
numbers on the pages equal the read API's; nothing CI sent runs as code; no page logs a
JavaScript error (the ``page`` fixture fails the test otherwise). Screenshots of every page go
to build/screenshots/ (``CIPULSE_SCREENSHOTS_DIR``)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from cipulse.accounts.service import AccountService
from cipulse.analytics.rankings import MIN_SAMPLE
from cipulse.settings import Settings
from cipulse.storage.database import Database
from tests.browser.conftest import seed_demo
from tests.builders import runwatch_job, runwatch_run
from tests.servers import threaded_server

EMAIL = "ada@example.com"
PASSWORD = "correct horse battery"
HOSTILE = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'
Screenshot = Callable[..., Path]


@pytest.fixture
def demo_server(settings: Settings) -> Iterator[str]:
    """A real server over a small generated history of the organisation ``demo``, with a
    dashboard user."""
    seed_demo(settings, EMAIL, PASSWORD)
    with threaded_server(settings.model_copy(update={"bootstrap_org": ""})) as url:
        yield url


def sign_in(page: Page, url: str) -> None:
    page.goto(url + "/")
    expect(page).to_have_url(re.compile(r"/sign-in"))
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()


def api(page: Page, url: str, path: str) -> Any:
    """The read API's answer, asked with the page's session (as the CSV links are)."""
    response = page.request.get(url + path)
    assert response.ok, response.text()
    return response.json()


def charts_drawn(page: Page) -> None:
    for chart in page.locator("[data-chart]").all():
        expect(chart.locator("svg").first).to_be_attached()


def test_a_newcomer_finds_what_matters(
    demo_server: str, page: Page, screenshot: Screenshot, settings: Settings
) -> None:
    url = demo_server
    kind = "postgresql" if settings.database_url.startswith("postgres") else "sqlite"
    page.goto(url + "/")
    screenshot(page, f"sign-in-{kind}", full_page=False)
    sign_in(page, url)
    charts_drawn(page)
    screenshot(page, f"overview-{kind}")

    # The headline numbers are the read API's.
    summary = api(page, url, "/api/v1/analytics/summary")
    runs = page.locator('.kpi[data-metric="runs"] [data-value]')
    expect(runs).to_have_text(f"{summary['runs']:,}")
    rate = page.locator('.kpi[data-metric="success_rate"] [data-value]')
    expect(rate).to_have_text(f"{summary['success_rate'] * 100:.1f}%")

    # The flakiest job, at a glance.
    flaky = api(page, url, "/api/v1/analytics/flaky?limit=1000")["items"]
    flaky = [row for row in flaky if row["runs"] >= MIN_SAMPLE]  # ranked with a sample
    if flaky:
        first = page.get_by_role("region", name="Flakiest jobs").locator(".name").first
        expect(first).to_have_text(flaky[0]["job"])

    # The run that broke main: red right now on default branches links to it.
    red = api(page, url, "/api/v1/analytics/recovery?branches=default&limit=1")
    if red["red_now"]:
        page.locator(".red-now a.since").first.click()
        expect(page.locator(".status").first).to_have_text(re.compile("failure|timed out"))
        expect(page.locator(".facts")).to_contain_text(red["red_now"][0]["branch"])
        page.go_back()

    # The slowest pipeline: sort the pipelines by p95.
    page.get_by_role("link", name="Pipelines", exact=True).click()
    page.get_by_role("link", name=re.compile(r"^p95 \(")).click()
    expect(page).to_have_url(re.compile(r"sort=-p95_duration_seconds"))
    slowest = api(page, url, "/api/v1/pipelines?sort=-p95_duration_seconds&limit=1")["items"][0]
    first_row = page.locator('table[data-table="pipelines"] tbody tr').first
    expect(first_row.locator(".name")).to_have_text(slowest["name"])
    expect(page.locator(".spark").first).to_be_visible()
    screenshot(page, f"pipelines-{kind}")

    # Time range and branch filter live in the URL and change the numbers. They apply on
    # "Apply", not when a select changes (an arrow key would load a page per option).
    page.get_by_label("Time range").select_option("7d")
    page.get_by_label("Branches").select_option("default")
    expect(page).not_to_have_url(re.compile(r"range=7d"))
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"range=7d"))
    expect(page).to_have_url(re.compile(r"branches=default"))
    week = api(page, url, "/api/v1/pipelines?days=7&branches=default&sort=-p95_duration_seconds")
    busiest = week["items"][0]
    expect(first_row.locator('[data-field="runs"]')).to_have_text(f"{busiest['runs']:,}")

    # A pipeline, then one of its runs and the run's waterfall.
    first_row.locator(".name").click()
    expect(page.get_by_role("heading", name=busiest["name"])).to_be_visible()
    expect(page).to_have_url(re.compile(r"range=7d.*branches=default|branches=default.*range=7d"))
    charts_drawn(page)
    screenshot(page, f"pipeline-{kind}")
    page.get_by_role("region", name="Recent runs").locator("tbody a").first.click()
    expect(page.get_by_role("heading", name="Waterfall")).to_be_visible()
    assert page.locator(".waterfall [data-job]").count() > 0
    screenshot(page, f"run-{kind}")

    for path, heading in (
        ("/jobs", "Jobs"),
        ("/flaky", "Flaky jobs"),
        ("/metrics", "Metrics explorer"),
    ):
        page.goto(url + path)
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        charts_drawn(page)
        screenshot(page, f"{path.strip('/')}-{kind}")

    # The metrics explorer: another aggregation, grouped by a tag.
    keys = api(page, url, "/api/v1/analytics/custom-metrics/keys")
    if keys["metrics"] and keys["tags"]:
        page.get_by_label("Group by tag").select_option(keys["tags"][0])
        page.get_by_role("button", name="Show").click()
        expect(page).to_have_url(re.compile(f"group={keys['tags'][0]}"))
        charts_drawn(page)


def test_keys_are_created_shown_once_copied_and_revoked(
    demo_server: str, page: Page, screenshot: Screenshot, settings: Settings
) -> None:
    url = demo_server
    kind = "postgresql" if settings.database_url.startswith("postgres") else "sqlite"
    sign_in(page, url)
    page.get_by_role("link", name="Settings").click()
    page.get_by_label("Name").fill("GitHub Actions")
    page.get_by_label("read (query the API)").check()
    page.get_by_role("button", name="Create key").click()
    secret = page.locator("[data-secret]")
    expect(secret).to_have_text(re.compile(r"^cip_"))
    key = secret.inner_text()
    page.get_by_role("button", name="Copy", exact=True).click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    screenshot(page, f"settings-{kind}")
    answer = page.request.get(url + "/api/v1/analytics/summary", headers={"X-API-Key": key})
    assert answer.ok
    page.goto(url + "/settings")
    expect(page.locator("[data-secret]")).to_have_count(0)
    expect(page.locator("#webhook-url-github")).to_have_text(re.compile(r"/webhooks/github/\w"))
    page.get_by_role("button", name="Copy the GitHub webhook URL").click()
    expect(page.locator("#webhooks").get_by_role("button", name="Copied")).to_be_visible()
    row = page.locator("tr", has_text="GitHub Actions")
    row.get_by_role("button", name=re.compile("Revoke")).click()
    expect(page.locator("tr", has_text="GitHub Actions")).to_contain_text("revoked")
    refused = page.request.get(url + "/api/v1/analytics/summary", headers={"X-API-Key": key})
    assert refused.status == 401
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/sign-in"))


def test_names_ci_sent_never_run_as_code(demo_server: str, page: Page, settings: Settings) -> None:
    url = demo_server
    database = Database(settings)
    try:
        key = AccountService(database).create_key("demo", scopes=("ingest",)).key
    finally:
        database.dispose()
    run = runwatch_run(
        repository="acme/evil",
        pipeline_name=HOSTILE,
        branch=HOSTILE,
        run_name=HOSTILE,
        actor=HOSTILE,
        run_url="javascript:window.__xss=3",
        jobs=[runwatch_job(HOSTILE, "failure", job_url="javascript:window.__xss=4")],
    )
    started = datetime.now(UTC) - timedelta(hours=1)
    run["started_at"] = started.strftime("%Y-%m-%dT%H:%M:%SZ")
    run["completed_at"] = (started + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    posted = page.request.post(url + "/functions/v1/ingest", data=run, headers={"X-API-Key": key})
    assert posted.ok, posted.text()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    sign_in(page, url)
    page.goto(url + "/pipelines?repository=acme/evil")
    page.locator('table[data-table="pipelines"] .name').first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(HOSTILE)
    page.get_by_role("region", name="Recent runs").locator("tbody a").first.click()
    expect(page.locator(".waterfall [data-job]").first).to_contain_text("<img")
    for path in ("/", "/pipelines", "/jobs", "/flaky", page.url):
        if path.startswith("/"):
            page.goto(url + path)
        assert page.evaluate("window.__xss") is None
        assert page.locator("a[href^='javascript:']").count() == 0
    assert dialogs == []


@pytest.mark.parametrize("color_scheme", ["dark"])
def test_dark_mode_and_a_phone(
    demo_server: str, page: Page, screenshot: Screenshot, settings: Settings
) -> None:
    kind = "postgresql" if settings.database_url.startswith("postgres") else "sqlite"
    sign_in(page, demo_server)
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(14, 17, 23)"
    charts_drawn(page)
    screenshot(page, f"overview-dark-{kind}")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(demo_server + "/pipelines")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390 + 1, "the page scrolls sideways on a phone"
    screenshot(page, f"pipelines-phone-{kind}")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    assert "Skip to content" in focused
