"""The quarantine list: read for CI and people, changed by hand.

A repository's quarantined tests with their owners (``analytics/test_owners.py``) and the
id CI matches them by, the latest changes, and changes by hand: every test named is checked
first (a 400 names every bad one) and the changes are written in one transaction, logged.
Flaky rules call ``storage/quarantine_store.quarantine`` inside their own transaction."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy.engine import Connection

from cipulse.analytics.test_owners import owners_of_cases
from cipulse.domain.test_ownership import NO_OWNER, TestOwner, split_test_id, test_id
from cipulse.errors import InvalidRequest, NotFound
from cipulse.storage import quarantine_store as store
from cipulse.storage.database import Database
from cipulse.storage.quarantine_store import MAX_BY, MAX_REASON, HistoryRow, StoredCase
from cipulse.storage.repositories import find_repositories

#: Tests named in one change, at most.
MAX_TESTS = 1000
_CASE_ID = re.compile(r"-?[0-9]{1,19}")


@dataclass(frozen=True, slots=True)
class QuarantinedTest:
    """A quarantined test with what the list shows of it."""

    case: StoredCase
    test_id: str
    since_ms: int
    reason: str
    by: str
    source: str
    owner: TestOwner


@dataclass(frozen=True, slots=True)
class QuarantineList:
    repository: str
    tests: list[QuarantinedTest]
    history: list[HistoryRow]


@dataclass(frozen=True, slots=True)
class QuarantineChange:
    """What a change did: the tests changed, and those that were already so."""

    changed: list[str]
    unchanged: list[str]


def _repository_ids(conn: Connection, org_id: str, repository: str) -> list[str]:
    name = repository.strip()
    if not name:
        raise InvalidRequest("repository: required (owner/name)")
    found = find_repositories(conn, org_id, name)
    if not found:
        raise NotFound(f"repository: no repository named {name!r}")
    return [row.id for row in found]


class QuarantineService:
    def __init__(self, database: Database) -> None:
        self.database = database

    def listing(self, org_id: str, repository: str, history: int = 50) -> QuarantineList:
        """The repository's quarantined tests, oldest first, with their owners, and its
        ``history`` latest changes."""
        with self.database.read() as conn:
            repository_ids = _repository_ids(conn, org_id, repository)
            rows = store.quarantined(conn, org_id, repository_ids)
            owners = owners_of_cases(conn, org_id, [row.case for row in rows])
            changes = store.history(conn, org_id, repository_ids, history) if history else []
        tests = [
            QuarantinedTest(
                row.case,
                test_id(row.case.suite, row.case.class_name, row.case.name),
                row.since_ms,
                row.reason,
                row.by,
                row.source,
                owners.get(row.case.id, NO_OWNER),
            )
            for row in rows
        ]
        return QuarantineList(repository.strip(), tests, changes)

    def add(
        self, org_id: str, repository: str, tests: list[str], reason: str, by: str
    ) -> QuarantineChange:
        """Quarantine the tests named (test ids or test case ids) by hand."""
        return self._change(org_id, repository, tests, reason, by, adding=True)

    def remove(
        self, org_id: str, repository: str, tests: list[str], reason: str, by: str
    ) -> QuarantineChange:
        """Take the tests named out of quarantine by hand."""
        return self._change(org_id, repository, tests, reason, by, adding=False)

    def _change(
        self, org_id: str, repository: str, tests: list[str], reason: str, by: str, adding: bool
    ) -> QuarantineChange:
        problems = _change_problems(tests, reason, by, adding)
        if problems:
            raise InvalidRequest("; ".join(problems), problems)
        with self.database.write() as conn:
            repository_ids = _repository_ids(conn, org_id, repository)
            cases, problems = _cases_named(conn, org_id, repository_ids, tests)
            if problems:
                raise InvalidRequest("; ".join(problems), problems)
            write = store.quarantine if adding else store.release
            changed: list[str] = []
            unchanged: list[str] = []
            for text, case in cases:
                done = write(conn, org_id, case.id, reason.strip(), by.strip(), "hand")
                (changed if done else unchanged).append(text)
        return QuarantineChange(changed, unchanged)


def _change_problems(tests: list[str], reason: str, by: str, adding: bool) -> list[str]:
    problems = []
    if not tests:
        problems.append("tests: name at least one test (classname::name or a test case id)")
    elif len(tests) > MAX_TESTS:
        problems.append(f"tests: at most {MAX_TESTS} in one change")
    if adding and not reason.strip():
        problems.append("reason: required (why the test is quarantined)")
    if len(reason) > MAX_REASON or any(ord(c) < 32 and c not in "\t" for c in reason):
        problems.append(f"reason: at most {MAX_REASON} characters, on one line")
    if not by.strip() or len(by) > MAX_BY:
        problems.append(f"by: 1 to {MAX_BY} characters")
    return problems


def _cases_named(
    conn: Connection, org_id: str, repository_ids: list[str], tests: list[str]
) -> tuple[list[tuple[str, StoredCase]], list[str]]:
    """Each test named with its test cases (a test id may name several: the same class and
    name in several suites or files), and a problem for each test that names none."""
    found: list[tuple[str, StoredCase]] = []
    problems: list[str] = []
    for text in dict.fromkeys(t.strip() for t in tests):
        cases = _cases_of(conn, org_id, repository_ids, text)
        if cases is None:
            problems.append(f"tests: {text!r} is neither classname::name nor a test case id")
        elif not cases:
            problems.append(f"tests: {text!r} names no test of this repository")
        else:
            found += [(text, case) for case in cases]
    return found, problems


def _cases_of(
    conn: Connection, org_id: str, repository_ids: list[str], text: str
) -> list[StoredCase] | None:
    if _CASE_ID.fullmatch(text):
        if not -(2**63) <= int(text) < 2**63:
            return []
        case = store.cases_by_ids(conn, org_id, [int(text)]).get(int(text))
        return [case] if case is not None and case.repository_id in repository_ids else []
    parts = split_test_id(text)
    if parts is None:
        return None
    return store.cases_named(conn, org_id, repository_ids, *parts)
