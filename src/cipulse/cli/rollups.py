"""``cipulse rollups …``: status, refresh and rebuild of the rollups.

``cipulse rollups …``: the analytics rollups, kept up to date by every server."""

from __future__ import annotations

import time

import click

from cipulse.accounts.service import AccountService
from cipulse.analytics.refresh import rebuild, refresh_all
from cipulse.cli.context import Context, reports_errors, say
from cipulse.storage.clock import now_ms
from cipulse.storage.rollups import set_aside as rollup_failures


@click.group()
def rollups() -> None:
    """Analytics rollups (figures per pipeline and day, refreshed by the servers)."""


@rollups.command("refresh")
@click.pass_obj
@reports_errors
def rollups_refresh(obj: Context) -> None:
    """Refresh what ingest changed since the last refresh (servers do this every
    CIPULSE_ROLLUP_INTERVAL_SECONDS), retrying at once the partitions set aside after a
    failure. Exits 1 when some still fail (see `cipulse rollups status`)."""
    started = time.perf_counter()
    partitions = refresh_all(obj.database)
    say(f"refreshed {partitions:,} partitions in {time.perf_counter() - started:.1f}s")
    with obj.database.read() as conn:
        failing = rollup_failures.status(conn).failing
    if failing:
        say(f"{failing:,} partitions failed and are set aside: see `cipulse rollups status`")
        raise SystemExit(1)


@rollups.command("status")
@click.option("--org", "org_name", help="Only this organisation [default: all].")
@click.pass_obj
@reports_errors
def rollups_status(obj: Context, org_name: str | None) -> None:
    """What waits for the refresher: marked partitions by kind, the oldest mark's age, and
    the partitions set aside after a failure, with their error. Exits 1 when some fail."""
    org_id = AccountService(obj.database).organisation(org_name).id if org_name else None
    with obj.database.read() as conn:
        found = rollup_failures.status(conn, org_id)
    now = now_ms()
    pending = ", ".join(f"{count:,} {kind}" for kind, count in found.pending.items())
    click.echo(f"pending: {found.partitions:,} partitions ({pending})")
    if found.oldest_marked_at_ms is not None:
        click.echo(f"oldest mark: {(now - found.oldest_marked_at_ms) / 1000:,.0f} s ago")
    click.echo(f"{found.failing:,} failing")
    for failure in found.failures:
        retry = max(0, (failure.retry_at_ms - now) // 1000)
        click.echo(
            f"  {failure.partition.describe()}: {failure.failures} failures, "
            f"retried in {retry} s: {failure.error}"
        )
    if found.failing:
        raise SystemExit(1)


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
