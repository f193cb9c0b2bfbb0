"""What admins manage on the settings page, over HTTP on SQLite and PostgreSQL: members
(added, created with a password shown once, roles, removal, disabling ends their sessions,
deletion after typing the email), repositories (removed with their runs after typing the
name), webhook secrets (set or rotated, shown once). Every form needs the session's CSRF
token; members get 403; nobody acts on themselves or on other organisations' people."""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any

import pytest
from starlette.testclient import TestClient

from cipulse.accounts.service import AccountService
from cipulse.accounts.users import UserService
from cipulse.settings import Settings
from cipulse.storage.database import Database
from cipulse.web.app import create_app
from tests.conftest import Tenant, rows
from tests.test_dashboard import PASSWORD, csrf_of, ingest, recent_runs, sign_in

ADMIN_FORMS = (
    ("/settings/members", {"email": "x@example.org", "role": "member"}),
    ("/settings/members/role", {"email": "bob@example.com", "role": "admin"}),
    ("/settings/members/remove", {"email": "bob@example.com"}),
    ("/settings/members/disable", {"email": "bob@example.com"}),
    ("/settings/members/enable", {"email": "bob@example.com"}),
    ("/settings/members/delete", {"email": "bob@example.com", "confirm": "bob@example.com"}),
    ("/settings/webhooks/github", {"secret": "s3cret"}),
)


@pytest.fixture
def admin(client: TestClient, tenant: Tenant, database: Database) -> TestClient:
    users = UserService(database)
    users.create_user("ada@example.com", tenant.name, PASSWORD)
    users.create_user("bob@example.com", tenant.name, PASSWORD, role="member")
    assert sign_in(client, "ada@example.com").status_code == 303
    return client


def post(client: TestClient, path: str, **form: str) -> Any:
    return client.post(path, data={"csrf": csrf_of(client), **form}, follow_redirects=False)


def test_every_form_needs_the_token_and_an_admin(
    admin: TestClient, settings: Settings, tenant: Tenant
) -> None:
    for path, form in ADMIN_FORMS:
        assert admin.post(path, data=form).status_code == 403, path  # no token
    with TestClient(create_app(settings)) as bob:
        assert sign_in(bob, "bob@example.com").status_code == 303
        for path, form in ADMIN_FORMS:
            refused = post(bob, path, **form)
            assert refused.status_code == 403, path
            assert "admins manage its" in refused.text
        page = bob.get("/settings").text
        assert 'action="/settings/members/remove"' not in page and "Add member" not in page


def test_members_are_added_created_changed_and_removed(
    admin: TestClient, database: Database, tenant: Tenant, settings: Settings
) -> None:
    AccountService(database).create_organisation("globex")
    UserService(database).create_user("cy@example.com", "globex", PASSWORD)
    added = post(admin, "/settings/members", email="cy@example.com", role="member")
    assert added.status_code == 201 and "Member added" in added.text
    assert "cy@example.com is now member of acme" in added.text
    created = post(admin, "/settings/members", email="dee@example.com", role="admin")
    assert created.status_code == 201
    password = re.search(r"data-secret>([^<]+)<", created.text)
    assert password is not None
    assert password.group(1) not in admin.get("/settings").text  # shown once
    assert UserService(database).sign_in("dee@example.com", password.group(1))
    again = post(admin, "/settings/members", email="dee@example.com", role="admin")
    assert again.status_code == 409

    assert (
        post(admin, "/settings/members/role", email="bob@example.com", role="admin").status_code
        == 303
    )
    roles = {m.email: m.role for m in UserService(database).members(org_id(database))}
    assert roles["bob@example.com"] == "admin"
    page = admin.get("/settings").text
    # cy belongs to globex too: removed from here, never disabled or deleted from here.
    assert "also in 1 other organisation" in page
    refused = post(admin, "/settings/members/disable", email="cy@example.com")
    assert refused.status_code == 403
    assert "belongs to other organisations too" in refused.text
    assert post(admin, "/settings/members/remove", email="cy@example.com").status_code == 303
    assert "cy@example.com" not in admin.get("/settings").text
    assert UserService(database).sign_in("cy@example.com", PASSWORD)  # still in globex
    for action in ("remove", "disable", "delete"):
        mine = post(
            admin, f"/settings/members/{action}", email="ada@example.com", confirm="ada@example.com"
        )
        assert mine.status_code == 403 and "your own account" in mine.text
    assert (
        post(admin, "/settings/members/role", email="nobody@example.com", role="admin").status_code
        == 404
    )


def test_a_disabled_member_is_signed_out_and_a_deleted_one_is_gone(
    admin: TestClient, database: Database, settings: Settings
) -> None:
    with TestClient(create_app(settings)) as bob:
        assert sign_in(bob, "bob@example.com").status_code == 303
        assert bob.get("/settings", follow_redirects=False).status_code == 200
        assert post(admin, "/settings/members/disable", email="bob@example.com").status_code == 303
        assert bob.get("/settings", follow_redirects=False).status_code == 303  # to sign in
        assert sign_in(bob, "bob@example.com").status_code == 403
        assert "(disabled)" in admin.get("/settings").text
        assert post(admin, "/settings/members/enable", email="bob@example.com").status_code == 303
        assert sign_in(bob, "bob@example.com").status_code == 303
    wrong = post(admin, "/settings/members/delete", email="bob@example.com", confirm="bob")
    assert wrong.status_code == 400
    assert "confirm: type bob@example.com to confirm" in wrong.text
    assert len(UserService(database).users()) == 2
    gone = post(
        admin, "/settings/members/delete", email="bob@example.com", confirm="BOB@example.com "
    )
    assert gone.status_code == 303
    assert [u.email for u in UserService(database).users()] == ["ada@example.com"]


def test_a_repository_is_removed_after_typing_its_name(
    admin: TestClient, database: Database, tenant: Tenant
) -> None:
    ingest(admin, tenant, recent_runs(repository="acme/app") + recent_runs(repository="acme/lib"))
    page = admin.get("/settings").text
    assert 'data-repository="acme/lib"' in page
    (lib,) = rows(database, "repositories", full_name="acme/lib")
    path = f"/settings/repositories/{lib['id']}/delete"
    wrong = post(admin, path, confirm="acme/app")
    assert wrong.status_code == 400
    assert "confirm: type acme/lib to confirm" in wrong.text
    assert len(rows(database, "repositories")) == 2
    removed = post(admin, path, confirm="acme/lib")
    assert removed.status_code == 200
    assert "acme/lib (github.com) and its 4 run attempts are deleted" in removed.text
    assert [r["full_name"] for r in rows(database, "repositories")] == ["acme/app"]
    assert post(admin, path, confirm="acme/lib").status_code == 404
    assert "acme/lib" not in admin.get("/pipelines").text


def test_webhook_secrets_are_set_and_rotated_and_shown_once(
    admin: TestClient, database: Database, tenant: Tenant
) -> None:
    given = post(admin, "/settings/webhooks/github", secret="my shared secret")
    assert given.status_code == 201
    assert "data-secret>my shared secret<" in given.text
    assert "my shared secret" not in admin.get("/settings").text
    body = b'{"zen": "Keep it logically awesome."}'

    def ping(secret: str) -> int:
        signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        headers = {
            "X-GitHub-Event": "ping",
            "X-Hub-Signature-256": signature,
            "X-GitHub-Delivery": secret,
            "Content-Type": "application/json",
        }
        return admin.post(
            f"/webhooks/github/{tenant.name}", content=body, headers=headers
        ).status_code

    assert ping("my shared secret") == 200
    rotated = post(admin, "/settings/webhooks/github")
    new = re.search(r"data-secret>([^<]+)<", rotated.text)
    assert new is not None and new.group(1) != "my shared secret"
    assert ping(new.group(1)) == 200 and ping("my shared secret") == 401
    assert post(admin, "/settings/webhooks/jenkins").status_code == 404
    assert post(admin, "/settings/webhooks/gitlab", secret="x" * 1001).status_code == 400
    assert len(rows(database, "webhook_secrets")) == 1


def org_id(database: Database) -> str:
    return AccountService(database).organisation("acme").id
