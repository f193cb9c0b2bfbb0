"""``cipulse rollups …``: the analytics rollups, kept up to date by every server."""

from __future__ import annotations

import time

import click

from cipulse.accounts.service import AccountService
from cipulse.analytics.refresh import rebuild, refresh_all
from cipulse.cli.context import Context, reports_errors, say


@click.group()
def rollups() -> None:
    """Analytics rollups (figures per pipeline and day, refreshed by the servers)."""


@rollups.command("refresh")
@click.pass_obj
@reports_errors
def rollups_refresh(obj: Context) -> None:
    """Refresh what ingest changed since the last refresh (servers do this every
    CIPULSE_ROLLUP_INTERVAL_SECONDS)."""
    started = time.perf_counter()
    marks = refresh_all(obj.database)
    say(f"refreshed {marks:,} partition marks in {time.perf_counter() - started:.1f}s")


@rollups.command("rebuild")
@click.option("--org", "org_name", help="Only this organisation [default: all].")
@click.pass_obj
@reports_errors
def rollups_rebuild(obj: Context, org_name: str | None) -> None:
    """Recompute every rollup from the raw rows (answers stay exact meanwhile)."""
    org_id = AccountService(obj.database).organisation(org_name).id if org_name else None
    started = time.perf_counter()

    def progress(done: int, partitions: int) -> None:
        say(f"  {done:,} of {partitions:,} partitions (pipeline and day)")

    partitions = rebuild(obj.database, org_id, progress)
    say(f"rebuilt {partitions:,} partitions in {time.perf_counter() - started:.1f}s")
