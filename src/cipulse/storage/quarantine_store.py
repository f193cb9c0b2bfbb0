"""Quarantined tests: put in, taken out, listed, with every change logged.

The list is one row per quarantined test case (``test_quarantine``); each change appends a
row to ``test_quarantine_history`` in the same transaction, so the history always explains
the list. Putting in a test already in, or taking out one not in, changes nothing and logs
nothing (retries are harmless)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cipulse.errors import InvalidRequest, NotFound
from cipulse.storage.clock import now_ms
from cipulse.storage.schema_quarantine import test_quarantine, test_quarantine_history
from cipulse.storage.schema_tests import test_cases

q, h, tc = test_quarantine, test_quarantine_history, test_cases

#: Who may quarantine: by hand (a person) or a flaky rule.
SOURCES = ("hand", "rule")
#: The longest reason and "by" stored.
MAX_REASON = 2000
MAX_BY = 320


class StoredCase(NamedTuple):
    """A test case of the dictionary, as the quarantine list shows it."""

    id: int
    repository_id: str
    suite: str
    class_name: str
    name: str
    file: str | None


class QuarantinedRow(NamedTuple):
    case: StoredCase
    since_ms: int
    reason: str
    by: str
    source: str


class HistoryRow(NamedTuple):
    test_case_id: int
    at_ms: int
    action: str
    reason: str
    by: str
    source: str


def _case_columns() -> list[Any]:
    return [tc.c.id, tc.c.repository_id, tc.c.suite, tc.c.class_name, tc.c.name, tc.c.file]


def _case(row: Sequence[Any]) -> StoredCase:
    return StoredCase(int(row[0]), str(row[1]), row[2], row[3], row[4], row[5])


def _check(reason: str, by: str, source: str) -> None:
    problems = []
    if source not in SOURCES:
        problems.append("source: must be hand or rule")
    if len(reason) > MAX_REASON:
        problems.append(f"reason: must be at most {MAX_REASON} characters")
    if not by.strip() or len(by) > MAX_BY:
        problems.append(f"by: must be 1 to {MAX_BY} characters")
    if problems:
        raise InvalidRequest("; ".join(problems), problems)


def quarantine(
    conn: Connection,
    org_id: str,
    test_case_id: int,
    reason: str,
    by: str,
    source: str = "rule",
    at_ms: int | None = None,
) -> bool:
    """Put a test case in its repository's quarantine list, logging who, when and why;
    False when it was in already (nothing changes). The hook flaky rules call
    (``source="rule"``, ``by`` the rule's name)."""
    _check(reason, by, source)
    found = conn.execute(
        sa.select(tc.c.repository_id).where(tc.c.org_id == org_id, tc.c.id == test_case_id)
    ).first()
    if found is None:
        raise NotFound(f"test: no test case {test_case_id} in this organisation")
    at = now_ms() if at_ms is None else at_ms
    row = {
        "org_id": org_id,
        "test_case_id": test_case_id,
        "repository_id": str(found[0]),
        "reason": reason,
        "by": by,
        "source": source,
    }
    present = conn.execute(
        sa.select(q.c.test_case_id).where(q.c.org_id == org_id, q.c.test_case_id == test_case_id)
    ).first()
    if present is not None:
        return False
    conn.execute(sa.insert(q).values(**row, since_ms=at))
    _log(conn, row, "added", at)
    return True


def release(
    conn: Connection,
    org_id: str,
    test_case_id: int,
    reason: str,
    by: str,
    source: str = "rule",
    at_ms: int | None = None,
) -> bool:
    """Take a test case out of quarantine, logging who, when and why; False when it was not
    in (nothing changes)."""
    _check(reason, by, source)
    found = conn.execute(
        sa.select(q.c.repository_id).where(q.c.org_id == org_id, q.c.test_case_id == test_case_id)
    ).first()
    if found is None:
        return False
    conn.execute(sa.delete(q).where(q.c.org_id == org_id, q.c.test_case_id == test_case_id))
    row = {
        "org_id": org_id,
        "test_case_id": test_case_id,
        "repository_id": str(found[0]),
        "reason": reason,
        "by": by,
        "source": source,
    }
    _log(conn, row, "removed", now_ms() if at_ms is None else at_ms)
    return True


def _log(conn: Connection, row: dict[str, object], action: str, at: int) -> None:
    conn.execute(sa.insert(h).values(**row, id=str(uuid.uuid4()), action=action, at_ms=at))


def quarantined(
    conn: Connection, org_id: str, repository_ids: Sequence[str]
) -> list[QuarantinedRow]:
    """The tests quarantined in these repositories, oldest first (the index on
    (org, repository), then each test case by its key)."""
    query = (
        sa.select(*_case_columns(), q.c.since_ms, q.c.reason, q.c.by, q.c.source)
        .select_from(q.join(tc, sa.and_(tc.c.org_id == q.c.org_id, tc.c.id == q.c.test_case_id)))
        .where(q.c.org_id == org_id, q.c.repository_id.in_(list(repository_ids)))
        .order_by(q.c.since_ms, q.c.test_case_id)
    )
    return [
        QuarantinedRow(_case(row[:6]), int(row[6]), row[7], row[8], row[9])
        for row in conn.execute(query)
    ]


def history(
    conn: Connection, org_id: str, repository_ids: Sequence[str], limit: int = 200
) -> list[HistoryRow]:
    """The latest changes to these repositories' lists, newest first."""
    query = (
        sa.select(h.c.test_case_id, h.c.at_ms, h.c.action, h.c.reason, h.c.by, h.c.source)
        .where(h.c.org_id == org_id, h.c.repository_id.in_(list(repository_ids)))
        .order_by(h.c.at_ms.desc(), h.c.id)
        .limit(limit)
    )
    return [HistoryRow(int(r[0]), int(r[1]), r[2], r[3], r[4], r[5]) for r in conn.execute(query)]


def cases_by_ids(conn: Connection, org_id: str, case_ids: Sequence[int]) -> dict[int, StoredCase]:
    found: dict[int, StoredCase] = {}
    for start in range(0, len(case_ids), 500):
        chunk = list(case_ids[start : start + 500])
        query = sa.select(*_case_columns()).where(tc.c.org_id == org_id, tc.c.id.in_(chunk))
        found.update((case.id, case) for case in map(_case, conn.execute(query)))
    return found


def cases_named(
    conn: Connection, org_id: str, repository_ids: Sequence[str], class_name: str, name: str
) -> list[StoredCase]:
    """The test cases of these repositories a test id names: the class (or, for a case
    without one, the suite) and the name (the index on (org, repository))."""
    query = sa.select(*_case_columns()).where(
        tc.c.org_id == org_id,
        tc.c.repository_id.in_(list(repository_ids)),
        tc.c.name == name,
        sa.or_(
            tc.c.class_name == class_name, sa.and_(tc.c.class_name == "", tc.c.suite == class_name)
        ),
    )
    return sorted(map(_case, conn.execute(query)), key=lambda case: case.id)


def delete_of_repository(conn: Connection, org_id: str, repository_id: str) -> None:
    """A repository's list and history (its test cases are being deleted)."""
    for table in (q, h):
        conn.execute(
            sa.delete(table).where(table.c.org_id == org_id, table.c.repository_id == repository_id)
        )
