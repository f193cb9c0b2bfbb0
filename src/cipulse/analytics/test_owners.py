"""Test owners: each test case's team from the team mapping.

The precedence is ``domain/test_ownership.py``'s: the CODEOWNERS rule of the test's file,
else the owner of the pipeline that last ran it, else unowned. ``test_owners`` takes an
open connection, so the Tests pages and the flaky rules can call it inside their reads."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.engine import Connection

from cipulse.domain.test_ownership import TestOwner, test_owner
from cipulse.storage import quarantine_store, test_pipelines
from cipulse.storage import teams as team_store
from cipulse.storage.quarantine_store import StoredCase


def test_owners(conn: Connection, org_id: str, case_ids: Sequence[int]) -> dict[int, TestOwner]:
    """The owner of each test case (by id) found in the organisation."""
    cases = quarantine_store.cases_by_ids(conn, org_id, list(case_ids))
    return owners_of_cases(conn, org_id, list(cases.values()))


test_owners.__test__ = False  # type: ignore[attr-defined]


def owners_of_cases(
    conn: Connection, org_id: str, cases: Sequence[StoredCase]
) -> dict[int, TestOwner]:
    """The owner of each of these test cases, by id."""
    if not cases:
        return {}
    rules = team_store.rules(conn, org_id)
    names = test_pipelines.repository_names(conn, org_id, [c.repository_id for c in cases])
    last = test_pipelines.last_pipelines(conn, org_id, [c.id for c in cases])
    return {
        case.id: test_owner(names.get(case.repository_id, ""), case.file, last.get(case.id), rules)
        for case in cases
    }
