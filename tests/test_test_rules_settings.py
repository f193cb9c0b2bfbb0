"""The settings page's flaky test rules, on SQLite and PostgreSQL: shown, set by an
admin, refused to a member and without the token, a bad value a 400 naming each field."""

from __future__ import annotations

from starlette.testclient import TestClient

from cipulse.accounts.users import UserService
from cipulse.storage.database import Database
from tests.conftest import Tenant, rows
from tests.test_dashboard import PASSWORD, csrf_of, sign_in


def test_rules_on_the_settings_page(client: TestClient, tenant: Tenant, database: Database) -> None:
    users = UserService(database)
    users.create_user("ada@example.com", tenant.name, PASSWORD)
    users.create_user("bob@example.com", tenant.name, PASSWORD, role="member")
    assert sign_in(client, "ada@example.com").status_code == 303
    page = client.get("/settings").text
    assert 'data-field="rules">a, b<' in page and 'data-field="clear_after_passes">20<' in page
    form = {"csrf": csrf_of(client), "clear_after_passes": "5", "max_flip_failures": "2"}
    done = client.post("/settings/test-rules", data={**form, "rule": ["a", "c"]})
    assert done.status_code == 201, done.text
    assert 'data-field="rules">a, c<' in done.text and "after 5 passes" in done.text
    (stored,) = rows(database, "test_rule_settings")
    assert (stored["rules"], stored["clear_after_passes"], stored["max_flip_failures"]) == (
        "ac",
        5,
        2,
    )
    assert stored["updated_by"] == "ada@example.com"
    bad = client.post(
        "/settings/test-rules",
        data={**form, "clear_after_passes": "x", "max_flip_failures": "-1"},
        headers={"Accept": "application/json"},
    )
    assert bad.status_code == 400
    assert (
        "clear_after_passes" in bad.json()["error"] and "max_flip_failures" in bad.json()["error"]
    )
    none = client.post("/settings/test-rules", data=form, headers={"Accept": "application/json"})
    assert none.status_code == 400 and "rules:" in none.json()["error"]
    no_token = client.post("/settings/test-rules", data={**form, "csrf": "x", "rule": "a"})
    assert no_token.status_code == 403
    client.post("/sign-out", data={"csrf": csrf_of(client)})
    assert sign_in(client, "bob@example.com").status_code == 303
    member = client.post(
        "/settings/test-rules", data={**form, "csrf": csrf_of(client), "rule": "a"}
    )
    assert member.status_code == 403
    assert rows(database, "test_rule_settings")[0]["rules"] == "ac"
