"""``cipulse ingest``'s bulk path: parse and resolve in workers.

Bulk import (``cipulse ingest``): the CPU-bound half of ingest (parse, validate, convert,
resolve into rows) runs in worker processes while this process stores what they prepared,
so a backfill uses every core. Workers return plain rows, which cross process boundaries
cheaply (domain objects with datetimes do not)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice

from cipulse.domain.write_plan import ResolvedSubmission
from cipulse.errors import CipulseError
from cipulse.ingestion.files import Payload
from cipulse.ingestion.formats import WireFormat, parse
from cipulse.parallel import ordered_map
from cipulse.storage.clock import now_ms
from cipulse.storage.rows import resolve

CHUNK_SIZE = 1000


@dataclass(frozen=True, slots=True)
class Prepared:
    """One payload, ready to store (``resolved``) or refused (``error``)."""

    origin: str
    resolved: ResolvedSubmission | None = None
    error: str | None = None
    #: What is stored otherwise than sent (``Submission.warnings``).
    warnings: tuple[str, ...] = ()

    @property
    def job_count(self) -> int:
        return 0 if self.resolved is None else self.resolved.job_count


def prepare(wire_format: WireFormat, org_id: str, payloads: list[Payload]) -> list[Prepared]:
    now = now_ms()
    prepared = []
    for payload in payloads:
        try:
            submission = parse(wire_format, payload.body)
        except CipulseError as exc:
            prepared.append(Prepared(payload.origin, error=exc.message))
            continue
        resolved = resolve(org_id, submission, now)
        prepared.append(Prepared(payload.origin, resolved, warnings=tuple(submission.warnings)))
    return prepared


def prepared_chunks(
    wire_format: WireFormat, org_id: str, payloads: Iterable[Payload], workers: int
) -> Iterator[list[Prepared]]:
    """Chunks of prepared payloads, in input order, prepared in ``workers`` processes (or
    here with 0)."""
    remaining = iter(payloads)
    chunks = iter(lambda: list(islice(remaining, CHUNK_SIZE)), [])
    return ordered_map(prepare, ((wire_format, org_id, chunk) for chunk in chunks), workers)
