"""The ``cipulse`` command group."""

from __future__ import annotations

import click

from cipulse import __version__
from cipulse.cli import (
    admin,
    demo,
    ingest,
    operate,
    rates,
    report,
    repos,
    rollups,
    send,
    serve,
    teams,
    tests,
    users,
)
from cipulse.cli.context import Context


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--database-url",
    envvar="CIPULSE_DATABASE_URL",
    help="sqlite:///path or postgresql://… [env: CIPULSE_DATABASE_URL; default: sqlite:///./cipulse.db]",
)
@click.version_option(__version__, prog_name="cipulse")
@click.pass_context
def cli(ctx: click.Context, database_url: str | None) -> None:
    """cipulse: self-hosted CI/CD pipeline analytics.

    Without a command, runs `cipulse serve`."""
    ctx.obj = Context(database_url)
    if ctx.invoked_subcommand is None:
        ctx.invoke(serve.serve)


for command in (
    serve.serve,
    serve.migrate,
    admin.orgs,
    admin.keys,
    repos.repos,
    teams.teams,
    tests.tests,
    rates.rates,
    users.users,
    ingest.ingest,
    demo.demo,
    rollups.rollups,
    operate.purge,
    operate.backup,
    send.send,
    report.report,
):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="cipulse")
