"""The rate card as users edit it, on SQLite and PostgreSQL: ``cipulse rates …`` (set, list,
remove, load-defaults, currency) and the settings page's forms (CSRF token, admins only, a
400 naming every bad field with nothing written, the published rates loaded)."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner, Result
from starlette.testclient import TestClient

from cipulse.accounts.rates import RateService
from cipulse.accounts.users import UserService
from cipulse.cli.main import cli
from cipulse.domain.published_rates import PUBLISHED_RATES
from cipulse.settings import Settings
from cipulse.storage.database import Database
from cipulse.web.app import create_app
from tests.conftest import Tenant, rows
from tests.test_dashboard import PASSWORD, csrf_of, sign_in


def run(settings: Settings, *args: str) -> Result:
    return CliRunner().invoke(
        cli, ["--database-url", settings.database_url, *args], catch_exceptions=False
    )


def test_the_cli_sets_lists_and_removes_rates(settings: Settings, tenant: Tenant) -> None:
    org = ("--org", tenant.name)
    empty = run(settings, "rates", "list", *org)
    assert empty.exit_code == 0 and "costs are unknown" in empty.stderr
    made = run(settings, "rates", "set", "GitHub", "x64,self-hosted,linux", "0.004", *org)
    assert made.exit_code == 0, made.stderr
    assert "linux,self-hosted,x64 cost 0.004 a minute from 1970-01-01" in made.stderr
    later = ("--platform", "0.002", "--from", "2026-03-01")
    again = run(settings, "rates", "set", "github", "linux,self-hosted,x64", "0.004", *later, *org)
    assert again.exit_code == 0
    listed = [line.split() for line in run(settings, "rates", "list", *org).stdout.splitlines()]
    assert listed[0] == ["PROVIDER", "PATTERN", "FROM", "PRICE", "(USD)", "PLATFORM", "BILLED"]
    pattern = "linux,self-hosted,x64"
    assert listed[1][:5] == ["github", pattern, "1970-01-01", "0.004", "0.00"]
    assert listed[2][:5] == ["github", pattern, "2026-03-01", "0.004", "0.002"]
    bad = run(settings, "rates", "set", *org, "--from", "tomorrow", "--", "github", "", "-1")
    assert bad.exit_code == 1
    for field in ("pattern:", "price:", "effective:"):
        assert field in bad.stderr
    removed = run(settings, "rates", "remove", "github", pattern, "--from", "2026-03-01", *org)
    assert removed.exit_code == 0 and "removed 1 rate" in removed.stderr
    assert run(settings, "rates", "remove", "gitlab", "*", *org).exit_code == 1  # none such


def test_the_cli_loads_defaults_and_sets_the_currency(
    settings: Settings, tenant: Tenant, database: Database
) -> None:
    org = ("--org", tenant.name)
    assert run(settings, "rates", "currency", *org).stdout.strip() == "USD"
    assert run(settings, "rates", "currency", "chf", *org).exit_code == 0
    assert run(settings, "rates", "currency", *org).stdout.strip() == "CHF"
    bad = run(settings, "rates", "currency", "swiss", *org)
    assert bad.exit_code == 1 and "ISO 4217" in bad.stderr
    loaded = run(settings, "rates", "load-defaults", *org)
    assert loaded.exit_code == 0
    assert f"loaded {len(PUBLISHED_RATES)} published rates" in loaded.stderr
    assert "they are in USD, the organisation's currency is CHF" in loaded.stderr
    assert run(settings, "rates", "load-defaults", *org).exit_code == 0  # again: replaced
    card = RateService(database).card_of(tenant.name)
    assert len(card.rates) == len(PUBLISHED_RATES)


# --- The settings page ----------------------------------------------------------------------


@pytest.fixture
def admin(client: TestClient, tenant: Tenant, database: Database) -> TestClient:
    users = UserService(database)
    users.create_user("ada@example.com", tenant.name, PASSWORD)
    users.create_user("bob@example.com", tenant.name, PASSWORD, role="member")
    assert sign_in(client, "ada@example.com").status_code == 303
    return client


def post(client: TestClient, path: str, **form: str) -> Any:
    return client.post(path, data={"csrf": csrf_of(client), **form}, follow_redirects=False)


RATE = {"provider": "github", "pattern": "*gpu*", "price": "0.05", "platform": "0.002"}
FORMS = (
    ("/settings/rates", RATE),
    ("/settings/rates/remove", {"provider": "github", "pattern": "*gpu*"}),
    ("/settings/rates/defaults", {}),
    ("/settings/currency", {"currency": "EUR"}),
)


def test_every_rate_form_needs_the_token_and_an_admin(
    admin: TestClient, settings: Settings, database: Database
) -> None:
    for path, form in FORMS:
        assert admin.post(path, data=form).status_code == 403, path
    with TestClient(create_app(settings)) as bob:
        assert sign_in(bob, "bob@example.com").status_code == 303
        for path, form in FORMS:
            refused = post(bob, path, **form)
            assert refused.status_code == 403, path
            assert "admins manage its rates" in refused.text
        page = bob.get("/settings").text
        assert 'id="rates-title"' in page and 'action="/settings/rates"' not in page
    assert rows(database, "rates") == []


def test_admins_edit_the_rate_card(admin: TestClient, database: Database) -> None:
    made = post(admin, "/settings/rates", **RATE, effective="2026-03-01")
    assert made.status_code == 201 and "Rate set" in made.text
    assert '<tr data-rate="github *gpu* 2026-03-01">' in made.text
    (stored,) = rows(database, "rates")
    assert (stored["price_micros"], stored["platform_micros"]) == (50_000, 2_000)
    assert post(admin, "/settings/currency", currency="eur").status_code == 303
    assert "prices per minute, in EUR" in admin.get("/settings").text
    removed = post(admin, "/settings/rates/remove", provider="github", pattern="*gpu*")
    assert removed.status_code == 303 and rows(database, "rates") == []
    loaded = post(admin, "/settings/rates/defaults")
    assert loaded.status_code == 201 and "Published rates loaded" in loaded.text
    assert len(rows(database, "rates")) == len(PUBLISHED_RATES)


def test_a_bad_rate_names_every_field_and_writes_nothing(
    admin: TestClient, database: Database
) -> None:
    bad = post(
        admin,
        "/settings/rates",
        provider="git hub",
        pattern="",
        price="-0.5",
        platform="lots",
        effective="2026-02-30",
    )
    assert bad.status_code == 400
    for field in ("provider:", "pattern:", "price:", "platform:", "effective:"):
        assert field in bad.text
    assert post(admin, "/settings/currency", currency="US$").status_code == 400
    assert rows(database, "rates") == []
    assert rows(database, "organisations")[0]["currency"] == "USD"
