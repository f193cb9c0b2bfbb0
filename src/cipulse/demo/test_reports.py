"""The demo's JUnit reports: each tested run's results, and their storing.

A tested pipeline's test job (``demo/test_suites.py``) reports every test of its suite when
it finished. What fails follows what happened to the job: a green job passes every test
(a flaky one now and then only after a retry in the job); a red one fails because of the
tests a red period of the default branch broke (from the commit that starts it, the same
message run after run), because of a flaky test (the run's next attempt, on the same
commit, passes), because the infrastructure failed (most tests erring at once), or because
of one to three tests the change broke. Durations are log-normal around each test's median.

Reports are stored through ``storage/test_result_store.store_report``, as ingest stores
them, with ids derived from the attempt and job: seeding again adds nothing."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from random import Random

from sqlalchemy.engine import Connection

from cipulse.demo.layout import Layout, PipelineTemplate, RedPeriod
from cipulse.demo.scheduling import Outcome, Schedule, Verdict
from cipulse.demo.test_suites import Suite, suite_key, suites
from cipulse.domain import ids
from cipulse.domain.flaky_rules import infrastructure_failure
from cipulse.domain.model import RepositoryRef, RunKeyScope
from cipulse.domain.status import Status
from cipulse.domain.test_results import TestCaseResult, TestStatus
from cipulse.domain.window import DAY_MS
from cipulse.storage import quarantine_store, test_result_store, test_rollups
from cipulse.storage.test_rollups import TestDay

#: Of the failed test jobs not explained otherwise, the share the infrastructure failed.
INFRASTRUCTURE_SHARE = 0.2
INFRASTRUCTURE_MESSAGE = "ConnectionError: database at db:5432 refused the connection"
BROKEN_MESSAGES = (
    "AssertionError: expected status 'paid', got 'pending'",
    "KeyError: 'currency'",
    "AssertionError: assert 1999 == 2000",
    "TypeError: unsupported operand type(s) for +: 'NoneType' and 'int'",
)
FLAKY_MESSAGE = "TimeoutError: no response from the fake gateway within 5.0s"


@dataclass(frozen=True, slots=True)
class DemoReport:
    """One report of a run attempt's test job, as a CI step would upload it."""

    repository: RepositoryRef
    pipeline_key: str
    run_key: str
    attempt: int
    job_name: str
    at: int  # the attempt's start, epoch seconds
    cases: tuple[TestCaseResult, ...]


def report_of(
    suite: Suite,
    template: PipelineTemplate,
    slot: int,
    attempt: int,
    schedule: Schedule,
    outcome: Outcome,
    shift: int,
) -> DemoReport | None:
    """The report of the attempt's test job; None when it did not finish."""
    status = schedule.statuses[suite.job]
    if status not in (Status.SUCCESS, Status.FAILURE) or schedule.ends[suite.job] is None:
        return None
    rng = Random(slot * 4 + attempt)
    # What a change broke fails again on a rerun of the same commit: drawn by the run.
    failing = {} if status is Status.SUCCESS else _failing(suite, template, slot, outcome)
    cases = []
    for index, test in enumerate(suite.tests):
        duration = int(math.exp(test.log_median_ms + rng.gauss(0.0, 0.4)))
        message = failing.get(index)
        if message is not None:
            failed = TestStatus.ERROR if message == INFRASTRUCTURE_MESSAGE else TestStatus.FAILED
            trace = f"{test.identity.file}:{40 + index % 60}: {message.split(':')[0]}"
            cases.append(TestCaseResult(test.identity, failed, duration, 0, message, trace))
        elif test.flake_chance and rng.random() < test.flake_chance:
            cases.append(TestCaseResult(test.identity, TestStatus.PASSED, duration * 2, 1))
        else:
            cases.append(TestCaseResult(test.identity, TestStatus.PASSED, duration))
    return DemoReport(
        template.repository,
        template.pipeline.key,
        str(template.run_id_base + slot),
        attempt,
        suite.job_name,
        schedule.start + shift,
        tuple(cases),
    )


def _failing(
    suite: Suite, template: PipelineTemplate, slot: int, outcome: Outcome
) -> dict[int, str]:
    """The tests that fail in a red test job, with their messages."""
    rng = Random(-slot - 1)
    red = template.red_period_at(slot) if outcome.on_red_main else None
    if red is not None:
        return _broken(suite, template, red)
    if outcome.verdict is Verdict.FLAKE and suite.flaky:
        return {rng.choice(suite.flaky): FLAKY_MESSAGE}
    if rng.random() < INFRASTRUCTURE_SHARE:
        share = rng.uniform(0.85, 1.0)
        return {i: INFRASTRUCTURE_MESSAGE for i in range(len(suite.tests)) if rng.random() < share}
    chosen = rng.sample(range(len(suite.tests)), rng.randint(1, 3))
    return {i: rng.choice(BROKEN_MESSAGES) for i in chosen}


def _broken(suite: Suite, template: PipelineTemplate, red: RedPeriod) -> dict[int, str]:
    """The tests a red period broke: the same ones, with the same message, until fixed."""
    rng = Random(f"{template.pipeline.key}:{red.first_slot}")
    chosen = rng.sample(range(len(suite.tests)), rng.randint(1, 2))
    return {i: BROKEN_MESSAGES[(red.first_slot + i) % len(BROKEN_MESSAGES)] for i in chosen}


def store_reports(
    conn: Connection, org_id: str, reports: Sequence[DemoReport], now: int
) -> tuple[int, int]:
    """Store reports not stored before, their daily figures added once per day; returns
    (reports, results) stored."""
    days: dict[int, dict[int, TestDay]] = {}
    stored = results = 0
    for report in reports:
        repository_id = ids.repository_id(org_id, report.repository)
        pipeline_id = ids.pipeline_id(repository_id, report.pipeline_key)
        attempt_id = ids.attempt_id(
            RunKeyScope.PIPELINE, repository_id, pipeline_id, report.run_key, report.attempt
        )
        digest = hashlib.sha256(f"demo:{attempt_id}:{report.job_name}".encode()).hexdigest()
        at_ms = report.at * 1000
        report_id = ids.junit_report_id(f"attempt:{attempt_id}", report.job_name, digest)
        failed = sum(c.status in (TestStatus.FAILED, TestStatus.ERROR) for c in report.cases)
        skipped = sum(c.status is TestStatus.SKIPPED for c in report.cases)
        row = (
            org_id,
            report_id,
            repository_id,
            attempt_id,
            report.run_key,
            report.attempt,
            None,
            report.job_name,
            digest,
            "junit.xml",
            now,
            at_ms,
            len(report.cases),
            failed,
            skipped,
            sum(c.flaky_in_job for c in report.cases),
            infrastructure_failure(len(report.cases) - skipped, failed),
        )
        day = days.setdefault(at_ms // DAY_MS, {})
        if test_result_store.store_report(conn, row, report.cases, now, day):
            stored += 1
            results += len(report.cases)
    for day_number, tests in sorted(days.items()):
        if tests:
            test_rollups.add_to_daily_rollups(conn, org_id, day_number, tests)
    return stored, results


def quarantine_some(conn: Connection, org_id: str, layout: Layout) -> int:
    """Quarantine the two flakiest tests of each tested pipeline (one by a flaky rule, one
    by hand), as a team would have; returns how many were new."""
    added = 0
    for template in layout.pipelines:
        suite = suites(layout).get(suite_key(template))
        if suite is None:
            continue
        repository_id = ids.repository_id(org_id, template.repository)
        flakiest = sorted(suite.flaky, key=lambda i: -suite.tests[i].flake_chance)[:2]
        for n, index in enumerate(flakiest):
            i = suite.tests[index].identity
            case_id = ids.case_id(repository_id, i.suite, i.class_name, i.name, i.file)
            if not _known(conn, org_id, case_id):
                continue
            by, source = ("rule:in-job-retry", "rule") if n == 0 else ("ana@example.com", "hand")
            added += quarantine_store.quarantine(
                conn, org_id, case_id, "flaky: fails about one run in twenty", by, source
            )
    return added


def _known(conn: Connection, org_id: str, case_id: int) -> bool:
    return bool(quarantine_store.cases_by_ids(conn, org_id, [case_id]))
