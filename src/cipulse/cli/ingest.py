"""``cipulse ingest``: offline import of payload files through the same ingest service as the
HTTP endpoints, for backfills."""

from __future__ import annotations

import time
from pathlib import Path

import click

from cipulse.accounts.service import AccountService, principal_for
from cipulse.cli.context import Context, reports_errors, say
from cipulse.errors import CipulseError
from cipulse.ingestion.files import payloads
from cipulse.ingestion.formats import WireFormat, parse
from cipulse.ingestion.service import IngestRequest, IngestService
from cipulse.storage.accounts import Principal
from cipulse.storage.database import Database

BATCH = 1000


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
@click.pass_obj
@reports_errors
def ingest(obj: Context, files: tuple[Path, ...], wire_format: str, org_name: str) -> None:
    """Import FILES (one payload, a JSON array of payloads, or JSON Lines each).

    Reports each payload that fails, stores the rest, and ends with a summary; exits 1 if any
    payload failed."""
    fmt = WireFormat(wire_format)
    principal = principal_for(AccountService(obj.database).organisation(org_name))
    database = Database(obj.settings(), background_checkpoints=True)
    try:
        with database.checkpointing():
            _import(database, files, fmt, principal)
    finally:
        database.dispose()


def _import(
    database: Database, files: tuple[Path, ...], fmt: WireFormat, principal: Principal
) -> None:
    service = IngestService(database)
    started = time.perf_counter()
    stored = failed = jobs = 0
    pending: list[tuple[str, IngestRequest]] = []

    def flush() -> None:
        nonlocal stored, failed, jobs
        results = service.ingest_batch([request for _, request in pending])
        for (origin, request), result in zip(pending, results, strict=True):
            if isinstance(result, CipulseError):
                failed += 1
                say(f"{origin}: {result.message}")
            else:
                stored += request.submission.event_count
                jobs += sum(len(a.jobs) for a in request.submission.attempts)
        pending.clear()

    for path in files:
        for payload in payloads(path):
            try:
                submission = parse(fmt, payload.body)
            except CipulseError as exc:
                failed += 1
                say(f"{payload.origin}: {exc.message}")
                continue
            pending.append(
                (payload.origin, IngestRequest(submission=submission, principal=principal))
            )
            if len(pending) >= BATCH:
                flush()
    if pending:
        flush()
    elapsed = time.perf_counter() - started
    unit = "runs" if fmt is WireFormat.RUNWATCH else "events"
    rate = stored / elapsed if elapsed > 0 else 0.0
    say(
        f"stored {stored} {unit} ({jobs} jobs) from {len(files)} file(s) in {elapsed:.2f}s "
        f"({rate:,.0f} {unit}/s); {failed} failed"
    )
    if failed:
        raise SystemExit(1)
