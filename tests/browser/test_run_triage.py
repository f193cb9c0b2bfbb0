"""The run page's triage in real headless Chromium against a real server, on SQLite and
PostgreSQL: octokit's recorded workflow_run (green, on master) then the next run of the same
workflow, failed, for another commit. The red run's page says it turned master red, links
the green run, lists the commit (linked to GitHub) with its author and pull request, and
the failed run's jobs; axe-core finds no violation on either run's page."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from cipulse.accounts.users import UserService
from cipulse.accounts.webhooks import github_signature
from cipulse.settings import Settings
from cipulse.storage.database import Database
from tests.browser.test_every_screen import axe_violations
from tests.browser.test_runs_page import page, sign_in
from tests.builders import real_fixture
from tests.servers import threaded_server
from tests.test_triage import red_from_green
from tests.webhooks import GITHUB_SECRET, hooked_org

__all__ = ["page"]  # a fixture, used by name
EMAIL = "linus@example.com"
PASSWORD = "correct horse battery"
RED_SHA = "9f" * 20


@pytest.fixture
def server(settings: Settings) -> Iterator[str]:
    database = Database(settings)
    try:
        org = hooked_org(database)
        UserService(database).create_user(EMAIL, org.name, PASSWORD)
    finally:
        database.dispose()
    green = real_fixture("github-workflow_run.completed.json")
    red = red_from_green(real_fixture("github-workflow_run.completed.with-pull-requests.json"))
    with threaded_server(settings) as url:
        for payload in (green, red):
            body = json.dumps(payload)
            posted = httpx.post(
                f"{url}/webhooks/github/acme",
                content=body,
                headers={
                    "X-GitHub-Event": "workflow_run",
                    "X-Hub-Signature-256": github_signature(GITHUB_SECRET, body.encode()),
                },
            )
            assert posted.is_success, posted.text
        yield url


def test_the_red_run_names_the_green_run_and_the_change(server: str, page: Page) -> None:
    sign_in(page, server)
    page.goto(f"{server}/runs?since=2020-10-01&until=2020-10-31")
    page.locator('table[data-table="runs"] tbody tr').filter(has_text="Linus Q").locator(
        "td"
    ).first.get_by_role("link").click()
    triage = page.locator('section[data-section="triage"]')
    expect(triage.get_by_role("heading", name="Triage")).to_be_visible()
    expect(triage.locator('[data-field="verdict"]')).to_contain_text("This run turned master red.")
    commits = triage.locator('table[data-table="changes"] tbody tr')
    expect(commits).to_have_count(1)
    expect(commits.first).to_contain_text("Drop the old parser")
    expect(commits.first).to_contain_text("Linus Q")
    expect(commits.first.get_by_role("link", name=RED_SHA[:8])).to_have_attribute(
        "href", f"https://github.com/octo-org/octo-repo/commit/{RED_SHA}"
    )
    expect(triage.get_by_role("link", name="#2")).to_have_attribute(
        "href", "https://github.com/Codertocat/Hello-World/pull/2"
    )
    expect(triage.locator('table[data-table="usual-durations"]')).to_have_count(0)
    assert axe_violations(page) == []

    # The previous green run is a click away, and says it did not fail.
    triage.get_by_role("link", name="#163").click()
    expect(page.locator('section[data-section="triage"]')).to_have_attribute(
        "data-verdict", "not_failed"
    )
    expect(page.locator('dd[data-field="author"]')).to_have_text("Matthias Fax")
    assert axe_violations(page) == []
