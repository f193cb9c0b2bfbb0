"""``cipulse users …`` and what ``cipulse serve`` says about the dashboard, in-process against
real databases."""

from __future__ import annotations

import functools
import re

import pytest
from argon2 import PasswordHasher
from click.testing import CliRunner, Result

from cipulse.accounts import passwords
from cipulse.accounts.service import AccountService
from cipulse.accounts.users import UserService
from cipulse.cli.invocation import cipulse_command
from cipulse.cli.main import cli
from cipulse.cli.serve import start_up
from cipulse.errors import Unauthenticated
from cipulse.settings import Settings
from cipulse.storage.database import Database
from tests.conftest import rows

PASSWORD = "correct horse battery"
SIGN_IN = re.compile(r"as admin@cipulse\.local with password (\S+)$", re.MULTILINE)


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tiny argon2 parameters: a real hash takes a fifth of a second (see test_users.py)."""
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(passwords, "_hasher", cheap)


def run(settings: Settings, *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(
        cli, ["--database-url", settings.database_url, *args], input=input, catch_exceptions=False
    )


def signs_in(database: Database, email: str, password: str) -> bool:
    try:
        UserService(database).sign_in(email, password)
    except Unauthenticated:
        return False
    return True


def test_create_with_password_stdin_then_add_to_another_organisation(
    settings: Settings, database: Database
) -> None:
    run(settings, "orgs", "create", "acme")
    run(settings, "orgs", "create", "globex")
    created = run(
        settings,
        "users",
        "create",
        "Ada@Example.org",
        "--org",
        "globex",
        "--password-stdin",
        input=f"{PASSWORD}\n",
    )
    assert created.exit_code == 0, created.stderr
    assert "created user ada@example.org in 'globex' as admin" in created.stderr
    assert created.stdout == ""
    assert signs_in(database, "ada@example.org", PASSWORD)
    added = run(settings, "users", "create", "ada@example.org", "--org", "acme", "--role", "member")
    assert added.exit_code == 0, added.stderr
    assert "added the existing user ada@example.org to 'acme' as member" in added.stderr
    again = run(settings, "users", "create", "ada@example.org", "--org", "acme")
    assert again.exit_code == 1
    assert "error: ada@example.org is already a member of 'acme'" in again.stderr
    listing = run(settings, "users", "list")
    assert listing.exit_code == 0
    header, line = listing.stdout.splitlines()
    assert header.split() == ["EMAIL", "ORGANISATIONS", "CREATED", "LAST", "SIGN-IN", "STATUS"]
    assert line.startswith("ada@example.org  acme (member), globex (admin)  20")
    assert "UTC" in line


def test_create_asks_twice_for_the_password(settings: Settings, database: Database) -> None:
    run(settings, "orgs", "create", "acme")
    answers = ["short", "short", "long enough", "but different", PASSWORD, PASSWORD]
    created = run(
        settings, "users", "create", "ada@example.org", "--org", "acme", input="\n".join(answers)
    )
    assert created.exit_code == 0, created.stderr
    assert "password: must be 8 to 200 characters" in created.stderr
    assert "the two entered values do not match" in created.stderr.lower()
    assert PASSWORD not in created.stderr + created.stdout
    assert signs_in(database, "ada@example.org", PASSWORD)


def test_create_refuses_bad_input_before_asking(settings: Settings, database: Database) -> None:
    run(settings, "orgs", "create", "acme")
    unknown_org = run(settings, "users", "create", "ada@example.org", "--org", "nope")
    assert unknown_org.exit_code == 1
    assert "error: org: no organisation named 'nope'" in unknown_org.stderr
    assert "Password" not in unknown_org.stderr
    bad_email = run(settings, "users", "create", "ada", "--org", "acme")
    assert bad_email.exit_code == 1
    assert "error: email: must be an email address" in bad_email.stderr
    bad_role = run(settings, "users", "create", "ada@example.org", "--org", "acme", "--role", "x")
    assert bad_role.exit_code == 2
    short = run(
        settings,
        "users",
        "create",
        "ada@example.org",
        "--org",
        "acme",
        "--password-stdin",
        input="short\n",
    )
    assert short.exit_code == 1
    assert "error: password: must be 8 to 200 characters" in short.stderr
    assert rows(database, "users") == []


def test_set_password(settings: Settings, database: Database) -> None:
    run(settings, "orgs", "create", "acme")
    run(
        settings,
        *("users", "create", "ada@example.org", "--org", "acme", "--password-stdin"),
        input=f"{PASSWORD}\n",
    )
    token = UserService(database).sign_in("ada@example.org", PASSWORD).token
    changed = run(
        settings,
        *("users", "set-password", "ada@example.org", "--password-stdin"),
        input="a new password\n",
    )
    assert changed.exit_code == 0, changed.stderr
    assert "their sessions are signed out" in changed.stderr
    assert UserService(database).session(token) is None
    assert signs_in(database, "ada@example.org", "a new password")
    prompted = run(
        settings, "users", "set-password", "ada@example.org", input="third password\n" * 2
    )
    assert prompted.exit_code == 0, prompted.stderr
    assert signs_in(database, "ada@example.org", "third password")
    unknown = run(settings, "users", "set-password", "eve@example.org")
    assert unknown.exit_code == 1
    assert "error: email: no user 'eve@example.org' (see `cipulse users list`)" in unknown.stderr
    assert "Password" not in unknown.stderr


def test_the_first_start_prints_a_dashboard_sign_in(settings: Settings, database: Database) -> None:
    first_settings = settings.model_copy(update={"bootstrap_org": "default"})
    message = start_up(first_settings, database)
    assert 'First start: created organisation "default" and an ingest API key.' in message
    (password,) = SIGN_IN.findall(message)
    assert f"Sign in to the dashboard at {settings.base_url}/ as admin@cipulse.local" in message
    assert signs_in(database, "admin@cipulse.local", password)
    assert "curl -X POST" in message and "X-API-Key: cip_" in message
    later = start_up(first_settings, database)
    assert not SIGN_IN.findall(later) and "First start" not in later
    cipulse = functools.partial(cipulse_command, settings)
    key_command = cipulse("keys create --org default --name example")
    assert f"export CIPULSE_API_KEY=$({key_command})" in later
    assert f"Dashboard: {settings.base_url}/ (its users: {cipulse('users list')})" in later
    # Double quotes: the variable expands when the command is pasted.
    assert '-H "X-API-Key: $CIPULSE_API_KEY"' in later


def test_later_starts_say_how_to_create_a_user(settings: Settings, database: Database) -> None:
    cipulse = functools.partial(cipulse_command, settings)
    nothing = start_up(settings, database)  # no bootstrap organisation: nothing created
    assert cipulse("orgs create my-org") in nothing
    assert f"export CIPULSE_API_KEY=$({cipulse('keys create --org my-org')})" in nothing
    assert cipulse("users create admin@cipulse.local --org my-org") in nothing
    AccountService(database).create_organisation("acme")
    no_users = start_up(settings, database)
    assert "create a user to sign in with:" in no_users
    assert cipulse("users create admin@cipulse.local --org acme") in no_users
    assert "Dashboard:" in no_users and "users list" not in no_users


def test_an_existing_user_added_by_a_script_keeps_their_password(
    settings: Settings, database: Database
) -> None:
    """Scripts pass --password-stdin whether the user exists or not: an existing user is
    added to the other organisation, with their own password, and the script is told."""
    for org in ("acme", "globex"):
        run(settings, "orgs", "create", org)
    command = ("users", "create", "ada@example.org", "--password-stdin")
    first = run(settings, *command, "--org", "acme", input=f"{PASSWORD}\n")
    assert first.exit_code == 0, first.stderr
    added = run(settings, *command, "--org", "globex", input="another password\n")
    assert added.exit_code == 0, added.stderr
    assert "added the existing user ada@example.org to 'globex' as admin" in added.stderr
    assert "their password is unchanged" in added.stderr
    assert signs_in(database, "ada@example.org", PASSWORD)
    assert not signs_in(database, "ada@example.org", "another password")
    again = run(settings, *command, "--org", "globex", input="x\n")
    assert again.exit_code == 1
    assert "error: ada@example.org is already a member of 'globex'" in again.stderr
