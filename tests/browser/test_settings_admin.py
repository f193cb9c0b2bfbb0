"""An admin removes a repository from the settings page in headless Chromium against a real
server: the removal needs its name typed; a wrong name is refused and removes nothing; the
right one removes it with its runs, and the overview no longer counts them."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from cipulse.accounts.service import AccountService
from cipulse.accounts.users import UserService
from cipulse.storage.database import Database
from tests.browser.conftest import LiveServer
from tests.test_dashboard import recent_runs

pytestmark = pytest.mark.browser

EMAIL = "ada@example.com"
PASSWORD = "correct horse battery"


def seeded(live_server: LiveServer) -> None:
    database = Database(live_server.settings)
    try:
        accounts = AccountService(database)
        accounts.create_organisation("acme")
        key = accounts.create_key("acme").key
        UserService(database).create_user(EMAIL, "acme", PASSWORD)
    finally:
        database.dispose()
    for repository in ("acme/app", "acme/lib"):
        for run in recent_runs(repository=repository):
            response = httpx.post(
                f"{live_server.url}/functions/v1/ingest", json=run, headers={"X-API-Key": key}
            )
            assert response.status_code == 200, response.text


def test_an_admin_removes_a_repository_after_typing_its_name(
    page: Page, live_server: LiveServer, screenshot: Callable[..., Path]
) -> None:
    seeded(live_server)
    page.goto(f"{live_server.url}/settings")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Repositories")).to_be_visible()
    row = page.locator('tr[data-repository="acme/lib"]')
    row.get_by_text("Remove…").click()
    confirm = row.get_by_label(re.compile("to delete it with all its runs"))
    expect(confirm).to_be_visible()
    screenshot(page, "settings-remove-repository")

    confirm.fill("acme/app")  # the other one's name: refused, nothing removed
    row.get_by_role("button", name="Remove acme/lib").click()
    expect(page.get_by_text("confirm: type acme/lib to confirm")).to_be_visible()
    errors = page.js_errors  # type: ignore[attr-defined]
    assert [e for e in errors if "status of 400" in e] == errors != []  # the refusal itself
    errors.clear()
    page.go_back()
    page.reload()
    row = page.locator('tr[data-repository="acme/lib"]')
    row.get_by_text("Remove…").click()
    row.get_by_label(re.compile("to delete it with all its runs")).fill("acme/lib")
    row.get_by_role("button", name="Remove acme/lib").click()

    expect(page.get_by_role("heading", name="Repository removed")).to_be_visible()
    expect(page.get_by_text("acme/lib (github.com) and its 4 run attempts")).to_be_visible()
    expect(page.locator('tr[data-repository="acme/lib"]')).to_have_count(0)
    expect(page.locator('tr[data-repository="acme/app"]')).to_have_count(1)
    page.goto(f"{live_server.url}/pipelines")
    expect(page.locator("table").get_by_text("acme/app").first).to_be_visible()
    expect(page.get_by_text("acme/lib")).to_have_count(0)
