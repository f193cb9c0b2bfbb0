"""How the quarantine list is named in JSON and in its plain-text form."""

from __future__ import annotations

from typing import Any

from cipulse.analytics.quarantine import QuarantinedTest, QuarantineList
from cipulse.analytics.questions.summary import iso
from cipulse.domain.test_ownership import TestOwner
from cipulse.storage.quarantine_store import HistoryRow

Json = dict[str, Any]


def owner_json(owner: TestOwner) -> Json:
    return {"team": owner.team, "reason": owner.reason.value}


def quarantined_test_json(test: QuarantinedTest) -> Json:
    case = test.case
    return {
        "test_case_id": str(case.id),
        "test_id": test.test_id,
        "suite": case.suite,
        "classname": case.class_name,
        "name": case.name,
        "file": case.file,
        "since": iso(test.since_ms),
        "reason": test.reason,
        "by": test.by,
        "source": test.source,
        "owner": owner_json(test.owner),
    }


def history_json(row: HistoryRow) -> Json:
    return {
        "test_case_id": str(row.test_case_id),
        "at": iso(row.at_ms),
        "action": row.action,
        "reason": row.reason,
        "by": row.by,
        "source": row.source,
    }


def quarantine_json(found: QuarantineList) -> Json:
    return {
        "repository": found.repository,
        "count": len(found.tests),
        "tests": [quarantined_test_json(test) for test in found.tests],
        "history": [history_json(row) for row in found.history],
    }


def quarantine_text(found: QuarantineList) -> str:
    """One test id a line (each once, in list order), ending with a newline when any."""
    ids = dict.fromkeys(test.test_id for test in found.tests)
    return "".join(f"{test_id}\n" for test_id in ids)
