"""``cipulse users …``: the people who sign in to the dashboard."""

from __future__ import annotations

import sys

import click

from cipulse.accounts.members import MemberService
from cipulse.accounts.passwords import checked_password
from cipulse.accounts.service import AccountService
from cipulse.accounts.users import UserService, no_such_user
from cipulse.cli.context import (
    Context,
    format_time,
    reports_errors,
    say,
    say_none,
    say_table,
)
from cipulse.domain.model import ROLES
from cipulse.errors import InvalidRequest

password_stdin_option = click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from stdin (its first line) instead of asking for it.",
)


def _prompted_password(text: str) -> str:
    if not text:
        raise click.UsageError("password: must not be empty")
    try:
        return checked_password(text)
    except InvalidRequest as exc:
        raise click.UsageError(exc.message) from None


def _password(from_stdin: bool) -> str:
    """From stdin (without its line ending), or asked for twice without echo."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password: str = click.prompt(
        "Password",
        hide_input=True,
        confirmation_prompt=True,
        value_proc=_prompted_password,
        err=True,
    )
    return password


@click.group()
def users() -> None:
    """Dashboard users: create, list, set-password, set-role, remove, disable, enable,
    delete."""


@users.command("create")
@click.argument("email")
@click.option("--org", "org_name", required=True, help="Organisation the user belongs to.")
@click.option(
    "--role",
    type=click.Choice(ROLES),
    default="admin",
    show_default=True,
    help="An admin also manages the organisation's API keys; a member reads.",
)
@password_stdin_option
@click.pass_obj
@reports_errors
def users_create(obj: Context, email: str, org_name: str, role: str, password_stdin: bool) -> None:
    """Create a user in an organisation, or add an existing user to another one.

    A new user needs a password: it is asked for (twice, not shown) unless --password-stdin
    is given. A user added to another organisation keeps their password (one given on stdin
    is not used: see set-password). Adding a member twice is an error."""
    service = UserService(obj.database)
    password = None
    if service.exists(email):
        if password_stdin:
            sys.stdin.readline()  # read, not used: they keep theirs
    else:
        AccountService(obj.database).organisation(org_name)  # a typo is named before asking
        password = _password(password_stdin)
    created = service.create_user(email, org_name, password, role)
    if created.new_user:
        say(f"created user {created.email} in {created.org_name!r} as {created.role}")
        say(f"they can sign in at {obj.settings().base_url}/")
    else:
        say(f"added the existing user {created.email} to {created.org_name!r} as {created.role}")
        if password_stdin:
            say(
                "their password is unchanged (the one given was not used; change it with "
                f"`cipulse users set-password {created.email}`)"
            )


@users.command("list")
@click.pass_obj
@reports_errors
def users_list(obj: Context) -> None:
    """List users: organisations with roles, created, last sign-in, disabled or not."""
    rows = [("EMAIL", "ORGANISATIONS", "CREATED", "LAST SIGN-IN", "STATUS")]
    for user in UserService(obj.database).users():
        rows.append(
            (
                user.email,
                ", ".join(f"{m.org_name} ({m.role})" for m in user.organisations) or "-",
                format_time(user.created_at),
                format_time(user.last_sign_in_at),
                "disabled" if user.disabled else "active",
            )
        )
    say_table(rows)
    if len(rows) == 1:
        say_none(obj, "users")


@users.command("set-password")
@click.argument("email")
@password_stdin_option
@click.pass_obj
@reports_errors
def users_set_password(obj: Context, email: str, password_stdin: bool) -> None:
    """Set a user's password and sign them out everywhere.

    The password is asked for (twice, not shown) unless --password-stdin is given."""
    service = UserService(obj.database)
    if not service.exists(email):  # before asking for a password in vain
        raise no_such_user(email)
    service.set_password(email, _password(password_stdin))
    say(f"changed the password of {email}; their sessions are signed out")


org_option = click.option("--org", "org_name", required=True, help="The organisation.")


@users.command("set-role")
@click.argument("email")
@org_option
@click.option("--role", type=click.Choice(ROLES), required=True, help="The new role.")
@click.pass_obj
@reports_errors
def users_set_role(obj: Context, email: str, org_name: str, role: str) -> None:
    """Make a member of an organisation an admin or a member (an organisation keeps at
    least one admin)."""
    membership = MemberService(obj.database).set_role(org_name, email, role)
    say(f"{email} is now {membership.role} of {membership.org_name!r}")


@users.command("remove")
@click.argument("email")
@org_option
@click.pass_obj
@reports_errors
def users_remove(obj: Context, email: str, org_name: str) -> None:
    """Remove a user from an organisation (their account and other memberships stay)."""
    removed = MemberService(obj.database).remove(org_name, email)
    say(f"removed {removed} from {org_name!r}")


def _warn_without_admin(organisations: list[str]) -> None:
    for name in organisations:
        say(
            f"warning: {name!r} has no admin left who can sign in "
            f"(cipulse users create EMAIL --org {name})"
        )


@users.command("disable")
@click.argument("email")
@click.pass_obj
@reports_errors
def users_disable(obj: Context, email: str) -> None:
    """Stop a user from signing in, and sign them out everywhere (enable undoes it)."""
    change = MemberService(obj.database).disable(email)
    say(f"disabled {change.email}; their sessions are signed out")
    _warn_without_admin(change.without_admin)


@users.command("enable")
@click.argument("email")
@click.pass_obj
@reports_errors
def users_enable(obj: Context, email: str) -> None:
    """Let a disabled user sign in again."""
    say(f"enabled {MemberService(obj.database).enable(email)}")


@users.command("delete")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
@reports_errors
def users_delete(obj: Context, email: str, yes: bool) -> None:
    """Delete a user with their memberships and sessions, for good."""
    if not UserService(obj.database).exists(email):  # before asking in vain
        raise no_such_user(email)
    if not yes:
        click.confirm(f"Delete the user {email}?", abort=True, err=True)
    service = MemberService(obj.database)
    change = service.delete(email)
    say(f"deleted {change.email}")
    _warn_without_admin(change.without_admin)
