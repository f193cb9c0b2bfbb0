"""The Runs page and a run's change in real headless Chromium against a real server, on
SQLite and PostgreSQL: real GitHub and GitLab webhook deliveries (octokit's workflow_run
with a pull request, GitLab's documented merge request pipeline) show their commit, author,
pull request (a link to its page) and event; the filter form narrows the list; the run page
says the same and names the failed job with its failure class and reason; axe-core finds no
violation on the page."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from cipulse.accounts.users import UserService
from cipulse.accounts.webhooks import github_signature
from cipulse.settings import Settings
from cipulse.storage.database import Database
from tests.browser.test_every_screen import DESKTOP, axe_violations, open_page
from tests.builders import real_fixture
from tests.servers import threaded_server
from tests.webhooks import GITHUB_SECRET, GITLAB_TOKEN, hooked_org

EMAIL = "linus@example.com"
PASSWORD = "correct horse battery"
#: Both deliveries' runs: GitLab's of 2016-08-12, GitHub's of 2020-10-05.
RANGE = "since=2016-08-01&until=2020-10-31"


@pytest.fixture
def server(settings: Settings) -> Iterator[str]:
    database = Database(settings)
    try:
        org = hooked_org(database)
        UserService(database).create_user(EMAIL, org.name, PASSWORD)
    finally:
        database.dispose()
    with threaded_server(settings) as url:
        github = json.dumps(real_fixture("github-workflow_run.completed.with-pull-requests.json"))
        posted = httpx.post(
            f"{url}/webhooks/github/acme",
            content=github,
            headers={
                "X-GitHub-Event": "workflow_run",
                "X-Hub-Signature-256": github_signature(GITHUB_SECRET, github.encode()),
            },
        )
        assert posted.is_success, posted.text
        posted = httpx.post(
            f"{url}/webhooks/gitlab/acme",
            json=real_fixture("gitlab-docs.pipeline-event.json"),
            headers={"X-Gitlab-Event": "Pipeline Hook", "X-Gitlab-Token": GITLAB_TOKEN},
        )
        assert posted.is_success, posted.text
        yield url


def sign_in(page: Page, url: str, email: str = EMAIL, password: str = PASSWORD) -> None:
    """Sign in as ``email`` (this module's user by default) and land on the overview."""
    page.goto(url + "/sign-in")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A page whose CSP is bypassed so that axe can be injected; no JavaScript error."""
    page, errors = open_page(browser, DESKTOP, None)
    try:
        yield page
    finally:
        page.context.close()
    assert not errors, errors


def test_runs_show_their_commit_author_and_pull_request(server: str, page: Page) -> None:
    sign_in(page, server)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Runs").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Runs")
    page.goto(f"{server}/runs?{RANGE}")
    rows = page.locator('table[data-table="runs"] tbody tr')
    expect(rows).to_have_count(2)
    github = rows.filter(has_text="Matthias Fax")
    expect(github.locator('[data-field="commit"]')).to_contain_text(
        "3484a3fb build(test): check workflow run event payload"
    )
    expect(github.get_by_role("link", name="#2")).to_have_attribute(
        "href", "https://github.com/Codertocat/Hello-World/pull/2"
    )
    expect(github.locator('[data-field="event_kind"]')).to_have_text("other")
    gitlab = rows.filter(has_text="bcbb5ec3")
    expect(gitlab.locator('[data-field="author"]')).to_have_text("User")
    expect(gitlab.get_by_role("link", name="#1")).to_have_attribute(
        "href", "http://192.168.64.1:3005/gitlab-org/gitlab-test/merge_requests/1"
    )
    expect(gitlab.locator('[data-field="pull_request"]')).to_contain_text("Test")
    expect(gitlab.locator('[data-field="event_kind"]')).to_have_text("pull request")
    assert axe_violations(page) == []

    # The form narrows the list, and keeps the time range.
    page.get_by_label("Event").select_option("pull_request")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("bcbb5ec3")
    page.get_by_label("Event").select_option("")
    page.get_by_label("Commit").fill("3484A3")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Matthias Fax")
    assert "since=2016-08-01" in page.url
    page.get_by_label("Commit").fill("")
    page.get_by_label("Author").fill("nobody")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("No runs in this window match these filters")).to_be_visible()
    page.get_by_role("link", name="Clear").click()
    expect(rows).to_have_count(2)

    # The run page says the same.
    gitlab.locator("td").first.get_by_role("link").click()
    expect(page.locator('dd[data-field="commit"]')).to_have_text("bcbb5ec3 test")
    expect(page.locator('dd[data-field="author"]')).to_have_text("User")
    expect(page.locator('dd[data-field="pull_request"]')).to_contain_text("#1 Test test → master")
    expect(page.locator('dd[data-field="event_kind"]')).to_have_text("pull request")
    # Its test-build job failed: GitLab's script_failure, a failure of the code.
    expect(page.get_by_role("heading", name="Why it failed")).to_be_visible()
    failed = page.locator('table[data-table="failures"] tbody tr')
    expect(failed).to_have_count(1)
    expect(failed.first).to_contain_text("test-build")
    expect(failed.first.locator("td").nth(2)).to_have_text("code script_failure")
    assert axe_violations(page) == []
