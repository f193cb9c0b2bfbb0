"""``cipulse ingest``: offline import of payload files.

``cipulse ingest``: offline import of payload files through the same ingest service as the
HTTP endpoints, for backfills."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import click

from cipulse.accounts.service import AccountService, principal_for
from cipulse.cli.context import Context, refresh_rollups, reports_errors, say, workers_option
from cipulse.errors import CipulseError
from cipulse.ingestion.bulk import prepared_chunks
from cipulse.ingestion.files import payloads
from cipulse.ingestion.formats import WireFormat
from cipulse.ingestion.service import IngestRequest, IngestService
from cipulse.storage.database import Database

#: Warnings printed one by one; beyond, only counted (a backfill may have thousands).
SHOWN_WARNINGS = 20


@click.command()
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--format",
    "wire_format",
    type=click.Choice([f.value for f in WireFormat]),
    required=True,
    help="Wire format of the files.",
)
@click.option("--org", "org_name", required=True, help="Organisation to store the runs in.")
@workers_option("parse and validate")
@click.pass_obj
@reports_errors
def ingest(
    obj: Context, files: tuple[Path, ...], wire_format: str, org_name: str, workers: int
) -> None:
    """Import FILES (one payload, a JSON array of payloads, or JSON Lines each).

    Reports each payload that fails, stores the rest, and ends with a summary; exits 1 if any
    payload failed. Payloads stored otherwise than sent (impossible timings: durations stored
    as unknown) are stored, their warnings printed (the first 20) and counted."""
    fmt = WireFormat(wire_format)
    principal = principal_for(AccountService(obj.database).organisation(org_name))
    database = Database(obj.settings(), background_checkpoints=True)
    service = IngestService(database)
    started = time.perf_counter()
    stored = failed = jobs = warned = warnings = 0
    all_payloads = itertools.chain.from_iterable(payloads(path) for path in files)
    try:
        with database.checkpointing():
            for chunk in prepared_chunks(
                fmt,
                principal.org_id,
                all_payloads,
                workers,
            ):
                for item in chunk:
                    if item.error is not None:
                        failed += 1
                        say(f"{item.origin}: {item.error}")
                ready = [item for item in chunk if item.resolved is not None]
                results = service.ingest_batch(
                    [IngestRequest(principal=principal, prepared=item.resolved) for item in ready]
                )
                for item, result in zip(ready, results, strict=True):
                    if isinstance(result, CipulseError):
                        failed += 1
                        say(f"{item.origin}: {result.message}")
                    else:
                        stored += result.events
                        jobs += item.job_count
                        warned += bool(item.warnings)
                        for warning in item.warnings:
                            warnings += 1
                            if warnings <= SHOWN_WARNINGS:
                                say(f"{item.origin}: warning: {warning}")
    finally:
        database.dispose()
    elapsed = time.perf_counter() - started
    unit = "runs" if fmt is WireFormat.RUNWATCH else "events"
    rate = stored / elapsed if elapsed > 0 else 0.0
    say(
        f"stored {stored} {unit} ({jobs} jobs) from {len(files)} file(s) in {elapsed:.2f}s "
        f"({rate:,.0f} {unit}/s); {failed} failed"
        + (f"; {warned} stored with {warnings} warnings" if warned else "")
    )
    refresh_rollups(obj)
    if failed:
        raise SystemExit(1)
