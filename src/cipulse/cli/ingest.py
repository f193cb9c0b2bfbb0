"""``cipulse ingest``: offline import of payload files.

``cipulse ingest``: offline import of payload files through the same ingest service as the
HTTP endpoints, for backfills."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from pathlib import Path

import click

from cipulse.accounts.service import AccountService, principal_for
from cipulse.cli.context import Context, refresh_rollups, reports_errors, say, workers_option
from cipulse.errors import CipulseError
from cipulse.ingestion.bulk import Prepared, prepared_chunks
from cipulse.ingestion.files import payloads
from cipulse.ingestion.formats import WireFormat
from cipulse.ingestion.service import IngestRequest, IngestService
from cipulse.storage.accounts import Principal
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
    tally = _Tally()
    all_payloads = itertools.chain.from_iterable(payloads(path) for path in files)
    try:
        with database.checkpointing():
            for chunk in prepared_chunks(fmt, principal.org_id, all_payloads, workers):
                _store_chunk(service, principal, chunk, tally)
    finally:
        database.dispose()
    unit = "runs" if fmt is WireFormat.RUNWATCH else "events"
    say(tally.summary(unit, len(files), time.perf_counter() - started))
    refresh_rollups(obj)
    if tally.failed:
        raise SystemExit(1)


@dataclass(slots=True)
class _Tally:
    """What an import did so far: payloads and jobs stored, payloads failed, and warnings."""

    stored: int = 0
    failed: int = 0
    jobs: int = 0
    warned: int = 0
    warnings: int = 0

    def fail(self, origin: str, message: str) -> None:
        self.failed += 1
        say(f"{origin}: {message}")

    def store(self, item: Prepared, events: int) -> None:
        self.stored += events
        self.jobs += item.job_count
        self.warned += bool(item.warnings)
        for warning in item.warnings:
            self.warnings += 1
            if self.warnings <= SHOWN_WARNINGS:
                say(f"{item.origin}: warning: {warning}")

    def summary(self, unit: str, file_count: int, elapsed: float) -> str:
        rate = self.stored / elapsed if elapsed > 0 else 0.0
        return (
            f"stored {self.stored} {unit} ({self.jobs} jobs) from {file_count} file(s) in "
            f"{elapsed:.2f}s ({rate:,.0f} {unit}/s); {self.failed} failed"
            + (f"; {self.warned} stored with {self.warnings} warnings" if self.warned else "")
        )


def _store_chunk(
    service: IngestService, principal: Principal, chunk: list[Prepared], tally: _Tally
) -> None:
    """Store a chunk's ready payloads in one batch; count what failed and what was stored."""
    for item in chunk:
        if item.error is not None:
            tally.fail(item.origin, item.error)
    ready = [item for item in chunk if item.resolved is not None]
    results = service.ingest_batch(
        [IngestRequest(principal=principal, prepared=item.resolved) for item in ready]
    )
    for item, result in zip(ready, results, strict=True):
        if isinstance(result, CipulseError):
            tally.fail(item.origin, result.message)
        else:
            tally.store(item, result.events)
