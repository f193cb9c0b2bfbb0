"""Flaky test rules: the settings, and a rule replayed on history.

``cipulse tests rules show|set`` and ``cipulse tests backtest`` call this service. A
backtest reads, for each test with results in the last ``days`` days (from the daily
rollups), its results of those days through its index, oldest first, and applies one rule
(``domain/flaky_rules.py``): what the rule would have flagged, with its evidence. It is an
offline command: it reads every result of the period, one test at a time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cipulse.analytics.questions.test_page import outcome_of
from cipulse.domain import flaky_rules
from cipulse.domain.flaky_rules import RULES, Evidence, RuleSettings
from cipulse.domain.window import DAY_MS
from cipulse.errors import InvalidRequest, NotFound
from cipulse.storage import accounts, test_reads, test_rules
from cipulse.storage.clock import now_ms
from cipulse.storage.database import Database
from cipulse.storage.test_reads import CaseRow

#: The most results of one test a backtest reads (its newest of the period).
BACKTEST_RESULTS_PER_TEST = 100_000
MAX_BACKTEST_DAYS = 3660


@dataclass(frozen=True, slots=True)
class Flagged:
    """A test a rule flags, with its evidence (oldest first)."""

    case: CaseRow
    evidence: tuple[Evidence, ...]


@dataclass(frozen=True, slots=True)
class Backtest:
    rule: str
    days: int
    tests_read: int
    results_read: int
    flagged: tuple[Flagged, ...]


def check_settings(chosen: RuleSettings) -> RuleSettings:
    """The settings if valid, else a 400 naming every wrong field."""
    problems = []
    if not chosen.rules or any(r not in RULES for r in chosen.rules):
        problems.append("rules: a non-empty set of " + ", ".join(RULES))
    if not 1 <= chosen.clear_after_passes <= 10_000:
        problems.append("clear_after_passes: must be from 1 to 10000")
    if not 1 <= chosen.max_flip_failures <= 100:
        problems.append("max_flip_failures: must be from 1 to 100")
    if problems:
        raise InvalidRequest("; ".join(problems))
    return RuleSettings(
        tuple(sorted(set(chosen.rules))), chosen.clear_after_passes, chosen.max_flip_failures
    )


class FlakyTestService:
    def __init__(self, database: Database, clock: Callable[[], int] = now_ms) -> None:
        self.database = database
        self.clock = clock

    def _org_id(self, org_name: str) -> str:
        with self.database.read() as conn:
            found = accounts.find_organisation(conn, org_name)
        if found is None:
            raise NotFound(f"org: no organisation named {org_name!r} (see `cipulse orgs list`)")
        return found.id

    def settings(self, org_name: str) -> RuleSettings:
        org_id = self._org_id(org_name)
        with self.database.read() as conn:
            return test_rules.settings(conn, org_id)

    def set_settings(self, org_name: str, chosen: RuleSettings, by: str | None) -> RuleSettings:
        checked = check_settings(chosen)
        org_id = self._org_id(org_name)
        with self.database.write() as conn:
            test_rules.set_settings(conn, org_id, checked, self.clock(), by)
        return checked

    def backtest(self, org_name: str, rule: str, days: int) -> Backtest:
        """What ``rule`` would have flagged over the last ``days`` days (to now)."""
        if rule not in RULES:
            raise InvalidRequest("rule: must be one of " + ", ".join(RULES))
        if not 1 <= days <= MAX_BACKTEST_DAYS:
            raise InvalidRequest(f"days: must be from 1 to {MAX_BACKTEST_DAYS}")
        org_id = self._org_id(org_name)
        now = self.clock()
        since = now - days * DAY_MS
        with self.database.read() as conn:
            base = test_rules.settings(conn, org_id)
            settings = RuleSettings((rule,), base.clear_after_passes, base.max_flip_failures)
            totals = test_reads.totals(conn, org_id, since // DAY_MS, now // DAY_MS + 1)
            case_ids = sorted(t.test_case_id for t in totals)
            cases = test_reads.cases(conn, org_id, case_ids)
            flagged, read = [], 0
            for case_id in case_ids:
                found = test_reads.results_page(
                    conn, org_id, case_id, None, BACKTEST_RESULTS_PER_TEST, since
                )
                read += len(found)
                outcomes = [outcome_of(row) for row in reversed(found)]
                evidence = flaky_rules.evidence(outcomes, settings)
                if evidence and case_id in cases:
                    flagged.append(Flagged(cases[case_id], tuple(evidence)))
        flagged.sort(key=lambda f: (-len(f.evidence), f.case.name, f.case.id))
        return Backtest(rule, days, len(case_ids), read, tuple(flagged))
