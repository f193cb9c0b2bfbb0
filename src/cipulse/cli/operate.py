"""``cipulse purge`` and ``cipulse backup``.

``cipulse purge`` and ``cipulse backup``: keeping a server for years
(docs/deployment.md)."""

from __future__ import annotations

import time
from pathlib import Path

import click

from cipulse.analytics import retention
from cipulse.cli.context import Context, long_writer, reports_errors, say
from cipulse.storage import backup as backups
from cipulse.storage.rollups.marks import day_text


@click.command()
@click.option(
    "--older-than",
    "days",
    type=click.IntRange(min=1),
    required=True,
    help="Purge the runs of the UTC days more than DAYS days before today.",
)
@click.option("--org", "org_name", help="Only this organisation [default: all].")
@click.option("--dry-run", is_flag=True, help="Count what would be purged; change nothing.")
@click.pass_obj
@reports_errors
def purge(obj: Context, days: int, org_name: str | None, dry_run: bool) -> None:
    """Delete the raw runs, jobs and webhook deliveries older than DAYS days.

    Their figures stay: whole days are read from the rollups (docs/metrics.md, After a
    purge); run lists and filters the rollups do not split by find nothing there any more.
    A run with an attempt within DAYS keeps all its attempts. Deletes in short batches, so
    servers go on ingesting meanwhile. Servers do this once a day by themselves with
    CIPULSE_RETENTION_DAYS."""
    first_kept = retention.cutoff_day(days)
    say(f"{'counting' if dry_run else 'purging'} the runs started before {day_text(first_kept)}")
    with long_writer(obj) as database:
        for organisation in retention.organisations_to_purge(database, org_name):
            started = time.perf_counter()
            report = retention.purge(
                database, organisation, first_kept, dry_run=dry_run, rest=retention.sleeping_rest
            )
            say(f"{retention.describe(report)} ({time.perf_counter() - started:.1f}s)")


@click.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace PATH if it exists.")
@click.pass_obj
@reports_errors
def backup(obj: Context, path: Path, force: bool) -> None:
    """Back up the database to PATH, safely while servers run.

    SQLite: a consistent copy through SQLite's online backup API, checked, one file; restore
    it by stopping the servers and copying it over the database file. PostgreSQL: runs
    pg_dump (custom format; restore with pg_restore), or prints the command when pg_dump is
    not installed. See docs/deployment.md, Backups and restore."""
    database = obj.database
    target = backups.checked_target(path, overwrite=force)
    started = time.perf_counter()
    if database.is_sqlite:
        written = backups.backup_sqlite(database, target)
    else:
        say(f"running: {backups.printable(backups.pg_dump_command(database, target))}")
        written = backups.backup_postgresql(database, target)
    say(
        f"backed up to {written.path} ({written.size_bytes / 1e6:,.1f} MB, schema revision "
        f"{written.revision or 'none'}) in {time.perf_counter() - started:.1f}s"
    )
