"""Test reports in: converted, attached to their run attempt, stored once.

``POST /api/v1/test-results`` and ``cipulse report junit`` end here. The reports are
converted first (``ingestion/junit``; a bad one is a 400 and nothing is written), then one
write transaction authenticates the key, finds the run attempt the reports belong to and
stores each report that was not stored before.

The target is a stored attempt's id (``pipeline_run_id``), or the natural keys a CI step
knows: provider, repository, run id, attempt and, where run ids are unique per pipeline
only, the pipeline. A run that has not arrived yet is no error: its reports are kept, and
join the attempt when it is stored (``test_result_store.attach_waiting_reports``), as jobs
that come before their run do."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Connection

from cipulse.domain import ids
from cipulse.domain.flaky_rules import infrastructure_failure
from cipulse.domain.keys import hash_key
from cipulse.domain.model import PROVIDER_HOSTS, RepositoryRef
from cipulse.domain.test_results import MAX_CASES, TestReport, TestStatus
from cipulse.errors import Forbidden, InvalidRequest, NotFound, Unauthenticated
from cipulse.ingestion.junit.converter import convert
from cipulse.storage import accounts
from cipulse.storage import test_result_store as store
from cipulse.storage.accounts import Principal
from cipulse.storage.clock import now_ms
from cipulse.storage.database import Database
from cipulse.storage.dialect import lock_natural_keys

INGEST_SCOPE = "ingest"


@dataclass(frozen=True, slots=True)
class TestTarget:
    """Where reports go: an attempt by id, or a run attempt by its natural keys; and the
    job (empty: the attempt as a whole)."""

    __test__ = False

    pipeline_run_id: str | None = None
    provider: str | None = None
    repository: str | None = None
    pipeline: str | None = None
    run_id: str | None = None
    run_attempt: int = 1
    job: str = ""

    @property
    def repository_ref(self) -> RepositoryRef:
        """As RunWatch names it: ``github`` is github.com; any other provider names its host."""
        assert self.provider is not None and self.repository is not None
        provider = self.provider.lower()
        return RepositoryRef(PROVIDER_HOSTS.get(provider, provider), self.repository)


@dataclass(frozen=True, slots=True)
class ReportFile:
    """One report as received: its bytes (gzip or not) and how messages name it."""

    data: bytes
    where: str
    file_name: str | None = None


@dataclass(frozen=True, slots=True)
class TestUpload:
    __test__ = False

    api_key: str
    target: TestTarget
    files: tuple[ReportFile, ...]


@dataclass(frozen=True, slots=True)
class TestUploadOutcome:
    """What an upload stored: results new and already stored, per the reports' digests."""

    __test__ = False

    reports: int
    stored: int
    duplicates: int
    pipeline_run_id: str | None
    warnings: tuple[str, ...]


def converted(upload: TestUpload, limit: int) -> list[TestReport]:
    """Every report converted (pure, CPU-bound: run outside the event loop); more than
    ``MAX_CASES`` cases in all is a 400."""
    reports = [convert(file.data, file.where, limit) for file in upload.files]
    total = sum(len(report.cases) for report in reports)
    if total > MAX_CASES:
        raise InvalidRequest(
            f"reports: {total} test cases, more than the limit of {MAX_CASES} per request"
        )
    return reports


class TestResultsService:
    __test__ = False

    def __init__(self, database: Database) -> None:
        self.database = database

    def store(self, upload: TestUpload, reports: list[TestReport]) -> TestUploadOutcome:
        """Store converted reports in one write transaction."""
        now = now_ms()
        with self.database.write() as conn:
            principal = _principal(conn, upload.api_key)
            target = _Resolved.of(conn, principal.org_id, upload.target, now)
            lock_natural_keys(conn, [target.lock_id])
            stored = duplicates = 0
            for file, report in zip(upload.files, reports, strict=True):
                if _store_report(conn, target, file, report, now):
                    stored += len(report.cases)
                else:
                    duplicates += len(report.cases)
        warnings = tuple(w for report in reports for w in report.warnings)
        return TestUploadOutcome(len(reports), stored, duplicates, target.attempt_id, warnings)


def _principal(conn: Connection, api_key: str) -> Principal:
    key_hash = hash_key(api_key)
    principal = accounts.principals_by_hash(conn, [key_hash]).get(key_hash)
    if principal is None:
        raise Unauthenticated("invalid API key")
    if principal.revoked:
        raise Unauthenticated("API key has been revoked")
    if INGEST_SCOPE not in principal.scopes:
        raise Forbidden("API key lacks the 'ingest' scope")
    return principal


@dataclass(frozen=True, slots=True)
class _Resolved:
    """A target resolved in an organisation: its repository and run natural key, and its
    attempt when stored."""

    org_id: str
    target: TestTarget
    key: str  # what the report id is derived from
    repository_id: str
    run_key: str
    attempt: int
    attempt_id: str | None
    at_ms: int

    @property
    def lock_id(self) -> str:
        return ids.run_lock_id(self.repository_id, self.run_key)

    @classmethod
    def of(cls, conn: Connection, org_id: str, target: TestTarget, now: int) -> _Resolved:
        if target.pipeline_run_id is not None:
            found = store.attempt_by_id(conn, org_id, target.pipeline_run_id)
            if found is None:
                raise NotFound(
                    "pipeline_run_id: no run attempt with this id; to send results before "
                    "their run, name it by provider, repository, run_id and run_attempt"
                )
            key = f"attempt:{found.id}"
            return cls(org_id, target, key, *_run_of(found), found.id, _at(found))
        assert target.run_id is not None
        repository_id = ids.repository_id(org_id, target.repository_ref)
        found = _the_attempt(conn, org_id, repository_id, target)
        key = "\x1f".join(
            ("run", repository_id, target.run_id, str(target.run_attempt), target.pipeline or "")
        )
        at = _at(found) if found is not None else now
        attempt_id = found.id if found is not None else None
        return cls(
            org_id, target, key, repository_id, target.run_id, target.run_attempt, attempt_id, at
        )


def _run_of(found: store.StoredAttempt) -> tuple[str, str, int]:
    return found.repository_id, found.run_key, found.attempt


def _at(found: store.StoredAttempt) -> int:
    """Results are timed by their attempt's start, else by when it was received."""
    return found.started_at_ms if found.started_at_ms is not None else found.received_at_ms


def _the_attempt(
    conn: Connection, org_id: str, repository_id: str, target: TestTarget
) -> store.StoredAttempt | None:
    assert target.run_id is not None
    found = store.attempts_of_run(conn, org_id, repository_id, target.run_id, target.run_attempt)
    if target.pipeline:
        found = [a for a in found if target.pipeline in (a.pipeline_key, a.pipeline_name)]
    if len(found) > 1:
        names = ", ".join(sorted(a.pipeline_name for a in found))
        raise InvalidRequest(
            f"pipeline: run {target.run_id} attempt {target.run_attempt} is a run of several "
            f"pipelines ({names}); name one in pipeline"
        )
    return found[0] if found else None


def _store_report(
    conn: Connection,
    target: _Resolved,
    file: ReportFile,
    report: TestReport,
    now: int,
) -> bool:
    """Store one report unless stored before (False)."""
    digest = report.digest
    report_id = ids.junit_report_id(target.key, target.target.job, digest)
    cases = report.cases
    failed = sum(c.status in (TestStatus.FAILED, TestStatus.ERROR) for c in cases)
    skipped = sum(c.status is TestStatus.SKIPPED for c in cases)
    flaky = sum(c.flaky_in_job for c in cases)
    infrastructure = infrastructure_failure(len(cases) - skipped, failed)
    row = (
        target.org_id,
        report_id,
        target.repository_id,
        target.attempt_id,
        target.run_key,
        target.attempt,
        target.target.pipeline or None,
        target.target.job,
        digest,
        file.file_name,
        now,
        target.at_ms,
        len(cases),
        failed,
        skipped,
        flaky,
        infrastructure,
    )
    return store.store_report(conn, row, cases, now)
