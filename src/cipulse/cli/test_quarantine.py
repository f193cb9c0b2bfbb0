"""``cipulse tests quarantine …``: the quarantine list of a repository.

``cipulse tests quarantine add|remove|list``: quarantine tests by hand, take them out, and
list what is quarantined with owners and the latest changes (who, when, why)."""

from __future__ import annotations

import getpass

import click

from cipulse.accounts.service import AccountService
from cipulse.analytics.quarantine import QuarantineChange, QuarantineService
from cipulse.cli.context import Context, format_time, reports_errors, say, say_table
from cipulse.storage.clock import from_ms

org_option = click.option("--org", "org_name", required=True, help="Organisation.")
repository_option = click.option(
    "--repository", required=True, help="The repository (owner/name) the tests are of."
)
by_option = click.option(
    "--by",
    default=lambda: f"cli:{getpass.getuser()}",
    show_default="cli:<your user name>",
    help="Who makes the change (recorded in the history).",
)
tests_argument = click.argument("tests", nargs=-1, required=True)


@click.group("quarantine")
def quarantine() -> None:
    """Quarantined tests: CI may skip them or ignore their failures (GET
    /api/v1/tests/quarantine)."""


def _org_id(obj: Context, org_name: str) -> str:
    return AccountService(obj.database).organisation(org_name).id


def _said(change: QuarantineChange, done: str, already: str) -> None:
    for test in change.changed:
        say(f"{done}: {test}")
    for test in change.unchanged:
        say(f"{already}: {test}")


@quarantine.command("add")
@tests_argument
@org_option
@repository_option
@click.option("--reason", required=True, help="Why (recorded in the history).")
@by_option
@click.pass_obj
@reports_errors
def quarantine_add(
    obj: Context, tests: tuple[str, ...], org_name: str, repository: str, reason: str, by: str
) -> None:
    """Quarantine TESTS, each a test id (classname::name, as in the JUnit report) or a
    test case id. Every test is checked first: one unknown, and nothing changes."""
    service = QuarantineService(obj.database)
    change = service.add(_org_id(obj, org_name), repository, list(tests), reason, by)
    _said(change, "quarantined", "already quarantined")


@quarantine.command("remove")
@tests_argument
@org_option
@repository_option
@click.option("--reason", default="", help="Why (recorded in the history).")
@by_option
@click.pass_obj
@reports_errors
def quarantine_remove(
    obj: Context, tests: tuple[str, ...], org_name: str, repository: str, reason: str, by: str
) -> None:
    """Take TESTS (test ids or test case ids) out of quarantine."""
    service = QuarantineService(obj.database)
    change = service.remove(_org_id(obj, org_name), repository, list(tests), reason, by)
    _said(change, "released", "not quarantined")


@quarantine.command("list")
@org_option
@repository_option
@click.option("--history", "show_history", is_flag=True, help="Also list the latest changes.")
@click.pass_obj
@reports_errors
def quarantine_list(obj: Context, org_name: str, repository: str, show_history: bool) -> None:
    """List the repository's quarantined tests: id, since, owner, source, by, reason."""
    found = QuarantineService(obj.database).listing(_org_id(obj, org_name), repository)
    rows = [("TEST", "SINCE", "OWNER", "SOURCE", "BY", "REASON")]
    rows += [
        (
            t.test_id,
            format_time(from_ms(t.since_ms)),
            t.owner.team or "unowned",
            t.source,
            t.by,
            t.reason,
        )
        for t in found.tests
    ]
    say_table(rows)
    if not found.tests:
        say(f"no test of {repository} is quarantined")
    if show_history:
        say("")
        changes = [("WHEN", "ACTION", "TEST CASE", "SOURCE", "BY", "REASON")]
        changes += [
            (format_time(from_ms(c.at_ms)), c.action, str(c.test_case_id), c.source, c.by, c.reason)
            for c in found.history
        ]
        say_table(changes)
