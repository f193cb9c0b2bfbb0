"""Managing members and accounts, on SQLite and PostgreSQL: roles, removal, disabling
(no sign-in, sessions end), enabling, deleting; an organisation keeps an admin; on the
settings page an admin acts within their organisation only; the CLI commands."""

from __future__ import annotations

import dataclasses

import pytest
from argon2 import PasswordHasher
from click.testing import CliRunner

from cipulse.accounts import passwords
from cipulse.accounts.members import MemberService
from cipulse.accounts.service import AccountService
from cipulse.accounts.users import UserService
from cipulse.cli.main import cli
from cipulse.domain.model import Session
from cipulse.errors import Conflict, Forbidden, NotFound, Unauthenticated
from cipulse.settings import Settings
from cipulse.storage.database import Database
from tests.conftest import rows

PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024))


@pytest.fixture
def members(database: Database, accounts: AccountService) -> MemberService:
    for name in ("acme", "globex"):
        accounts.create_organisation(name)
    users = UserService(database)
    users.create_user("ada@example.org", "acme", PASSWORD)  # admin of acme
    users.create_user("bob@example.org", "acme", PASSWORD, role="member")
    users.create_user("cy@example.org", "globex", PASSWORD)
    users.create_user("cy@example.org", "acme", None, role="member")  # in both
    return MemberService(database)


def session_of(database: Database, email: str) -> Session:
    return UserService(database).sign_in(email, PASSWORD).session


def test_a_disabled_user_cannot_sign_in_and_is_signed_out(
    members: MemberService, database: Database
) -> None:
    users = UserService(database)
    signed = users.sign_in("bob@example.org", PASSWORD)
    change = members.disable("bob@example.org")
    assert change.without_admin == []
    assert users.session(signed.token) is None
    assert not rows(database, "sessions")
    with pytest.raises(Forbidden, match=r"bob@example\.org is disabled"):
        users.sign_in("bob@example.org", PASSWORD)
    with pytest.raises(Unauthenticated):  # a wrong password learns nothing more
        users.sign_in("bob@example.org", "wrong password!")
    assert [u.disabled for u in users.users()] == [False, True, False]
    members.enable("bob@example.org")
    assert users.sign_in("bob@example.org", PASSWORD).session.email == "bob@example.org"


def test_roles_removal_and_the_last_admin(members: MemberService, database: Database) -> None:
    with pytest.raises(Conflict, match=r"ada@example\.org is the last admin of 'acme'"):
        members.set_role("acme", "ada@example.org", "member")
    with pytest.raises(Conflict, match="last admin"):
        members.remove("acme", "ada@example.org")
    members.set_role("acme", "bob@example.org", "admin")
    members.set_role("acme", "ada@example.org", "member")
    assert members.remove("acme", "ada@example.org") == "ada@example.org"
    listed = {
        m.email: m.role
        for m in UserService(database).members(AccountService(database).organisation("acme").id)
    }
    assert listed == {"bob@example.org": "admin", "cy@example.org": "member"}
    with pytest.raises(NotFound, match=r"ada@example\.org is not a member of 'acme'"):
        members.remove("acme", "ada@example.org")
    with pytest.raises(NotFound, match=r"no user 'nobody@example\.org'"):
        members.disable("nobody@example.org")


def test_deleting_a_user_takes_their_memberships_and_sessions(
    members: MemberService, database: Database
) -> None:
    UserService(database).sign_in("cy@example.org", PASSWORD)
    change = members.delete("cy@example.org")
    assert change.without_admin == ["globex"]  # the CLI warns about it
    assert [u.email for u in UserService(database).users()] == [
        "ada@example.org",
        "bob@example.org",
    ]
    assert not rows(database, "sessions")
    assert len(rows(database, "memberships")) == 2


def test_an_admin_acts_within_their_organisation_only(
    members: MemberService, database: Database
) -> None:
    ada = session_of(database, "ada@example.org")
    with pytest.raises(Forbidden, match="you cannot disable your own account here"):
        members.disable("ada@example.org", acting=ada)
    with pytest.raises(Forbidden, match="you cannot remove your own account"):
        members.remove("acme", "ada@example.org", acting=ada)
    with pytest.raises(Forbidden, match=r"cy@example\.org belongs to other organisations too"):
        members.disable("cy@example.org", acting=ada)
    with pytest.raises(Forbidden, match="belongs to other organisations"):
        members.delete("cy@example.org", acting=ada)
    assert members.remove("acme", "cy@example.org", acting=ada) == "cy@example.org"
    members.disable("bob@example.org", acting=ada)
    members.enable("bob@example.org", acting=ada)
    members.delete("bob@example.org", acting=ada)
    assert [u.email for u in UserService(database).users()] == [
        "ada@example.org",
        "cy@example.org",
    ]
    stranger = dataclasses.replace(ada, org_id="elsewhere")
    with pytest.raises(Forbidden):
        members.delete("ada@example.org", acting=stranger)


def test_adding_a_member_creates_the_account_when_needed(members: MemberService) -> None:
    existing = members.add("globex", "ada@example.org", "member")
    assert existing.password is None and not existing.created.new_user
    new = members.add("globex", "dee@example.org", "admin")
    assert new.created.new_user and new.password and len(new.password) >= 12
    with pytest.raises(Conflict, match="already a member of 'globex'"):
        members.add("globex", "dee@example.org", "admin")


def test_the_cli_manages_accounts(
    settings: Settings, database: Database, members: MemberService
) -> None:
    runner = CliRunner()

    def run(*args: str, **options: str) -> object:
        return runner.invoke(
            cli, ["--database-url", settings.database_url, "users", *args], **options
        )

    role = run("set-role", "bob@example.org", "--org", "acme", "--role", "admin")
    assert role.exit_code == 0 and "bob@example.org is now admin of 'acme'" in role.stderr
    last = run("remove", "cy@example.org", "--org", "globex")
    assert last.exit_code == 1 and "cy@example.org is the last admin of 'globex'" in last.stderr
    removed = run("remove", "cy@example.org", "--org", "acme")
    assert removed.exit_code == 0 and "removed cy@example.org from 'acme'" in removed.stderr
    disabled = run("disable", "cy@example.org")
    assert disabled.exit_code == 0
    assert "warning: 'globex' has no admin left who can sign in" in disabled.stderr
    listing = run("list")
    (line,) = [row for row in listing.stdout.splitlines() if row.startswith("cy@")]
    assert line.split()[1:3] == ["globex", "(admin)"] and line.endswith("disabled")
    assert run("enable", "cy@example.org").exit_code == 0
    asked = run("delete", "cy@example.org", input="n\n")
    assert asked.exit_code == 1 and "Delete the user cy@example.org?" in asked.stderr
    deleted = run("delete", "cy@example.org", "--yes")
    assert deleted.exit_code == 0 and "deleted cy@example.org" in deleted.stderr
    missing = run("delete", "cy@example.org", "--yes")
    assert missing.exit_code == 1 and "no user 'cy@example.org'" in missing.stderr
