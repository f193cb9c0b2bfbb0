"""``cipulse repos …``: repositories and their default branches.

``cipulse repos …``: the repositories CI sent runs of, and their default branches."""

from __future__ import annotations

import click

from cipulse.accounts.deletion import DeletionService
from cipulse.accounts.repositories import RepositoryService
from cipulse.cli.context import (
    Context,
    format_time,
    long_writer,
    reports_errors,
    say,
    say_none,
    say_table,
)
from cipulse.storage.clock import from_ms

org_option = click.option("--org", "org_name", required=True, help="Organisation.")


@click.group()
def repos() -> None:
    """Repositories: list, set-default-branch, delete."""


@repos.command("list")
@org_option
@click.pass_obj
@reports_errors
def repos_list(obj: Context, org_name: str) -> None:
    """List an organisation's repositories with their default branch."""
    rows = [("REPOSITORY", "HOST", "DEFAULT BRANCH", "CREATED")]
    for repository in RepositoryService(obj.database).repositories(org_name):
        rows.append(
            (
                repository.full_name,
                repository.host,
                repository.default_branch or "main or master",
                format_time(from_ms(repository.created_at_ms)),
            )
        )
    say_table(rows)
    if len(rows) == 1:
        say_none(obj, f"repositories of {org_name!r}")


@repos.command("set-default-branch")
@click.argument("repository")
@click.argument("branch")
@org_option
@click.pass_obj
@reports_errors
def repos_set_default_branch(obj: Context, repository: str, branch: str, org_name: str) -> None:
    """Name REPOSITORY's default branch (owner/name); "" goes back to main and master.

    The dashboard's "Default branch" filter and the read API's branches=default count the
    attempts on it. Figures move at once; the servers refresh their rollups meanwhile."""
    RepositoryService(obj.database).set_default_branch(org_name, repository, branch)
    shown = branch.strip() or "main or master"
    say(f"the default branch of {repository} is now {shown}")


@repos.command("delete")
@click.argument("repository")
@org_option
@click.option("--host", help="The code host (github.com, …) when several have REPOSITORY.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
@reports_errors
def repos_delete(obj: Context, repository: str, org_name: str, host: str | None, yes: bool) -> None:
    """Delete REPOSITORY (owner/name) with its pipelines, runs, jobs and figures, for good.

    The organisation's figures no longer count it (the servers' refreshers add up the days it
    had runs on again). Deletes in short batches while servers run; stop sending its runs
    first, or they create it again."""
    org_id, found = DeletionService(obj.database).find_repository(org_name, repository, host)
    if not yes:
        click.confirm(
            f"Delete {found.full_name} ({found.host}) of {org_name!r} with all its runs?",
            abort=True,
            err=True,
        )
    with long_writer(obj) as database:
        deleted = DeletionService(database).delete_repository(org_id, found)
    say(f"deleted {found.full_name} ({found.host}) and its {deleted.attempts:,} run attempts")
