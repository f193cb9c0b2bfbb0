"""Test results: one test case's outcome in a report, and its limits.

What a JUnit report says of each test case once converted (``ingestion/junit``): its
identity (suite, class, name, file), its status, its duration and, when it did not pass,
its message and the first lines of its trace, both bounded. ``retries`` counts the extra
tries within the job (pytest-rerunfailures' reruns, Surefire's ``flakyFailure`` and
``rerunFailure``): a test that passed with retries failed first, in the same job."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class TestStatus(IntEnum):
    """Stored as a small integer; the order is the storage's (never renumber)."""

    __test__ = False  # not a pytest test class

    PASSED = 0
    FAILED = 1
    ERROR = 2
    SKIPPED = 3


TEST_STATUS_TEXT = {status: status.name.lower() for status in TestStatus}

#: Longest suite, class, name or file kept as a test's identity (characters); longer: 400.
MAX_IDENTITY_CHARS = 1000
#: A failure message is cut to this many characters (with ``…``).
MAX_MESSAGE_CHARS = 1000
#: The trace keeps its first lines, this many at most, and this many characters at most.
MAX_TRACE_LINES = 30
MAX_TRACE_CHARS = 4000
#: Test cases in one request (all its reports); more: 400.
MAX_CASES = 100_000
#: Nesting of ``testsuite`` elements a report may have; deeper: 400.
MAX_SUITE_DEPTH = 32


@dataclass(frozen=True, slots=True)
class TestIdentity:
    """What names a test case across runs, within a repository."""

    __test__ = False

    suite: str
    class_name: str
    name: str
    file: str | None


@dataclass(frozen=True, slots=True)
class TestCaseResult:
    """One test case of a report, its tries within the job folded into one result."""

    __test__ = False

    identity: TestIdentity
    status: TestStatus
    duration_ms: int | None
    retries: int = 0
    message: str | None = None
    trace: str | None = None

    @property
    def flaky_in_job(self) -> bool:
        """Passed after failing in the same job (a retry inside the job)."""
        return self.status is TestStatus.PASSED and self.retries > 0


@dataclass(frozen=True, slots=True)
class TestReport:
    """One JUnit report converted: its cases in document order, its digest, and what was
    stored otherwise than sent (one line each, naming where)."""

    __test__ = False

    cases: tuple[TestCaseResult, ...]
    #: SHA-256 of the report's XML (decompressed): the same report sent again, gzip or not.
    digest: str
    warnings: tuple[str, ...] = ()
