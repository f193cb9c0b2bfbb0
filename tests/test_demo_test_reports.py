"""``cipulse demo seed``'s JUnit reports, checked from the stored raw rows on SQLite and
PostgreSQL: every report joins its attempt, suites are hundreds of tests, flaky tests pass
on a retry in the job or fail then pass on the next attempt of the same run, the daily
figures add up to the results, a few tests are quarantined, and seeding again adds nothing."""

from __future__ import annotations

from collections import defaultdict

from cipulse.demo.test_suites import SUITE_SIZE
from cipulse.settings import Settings
from cipulse.storage.database import Database
from tests.conftest import count, rows
from tests.test_demo import seed


def test_seeded_test_reports(settings: Settings, database: Database) -> None:
    first = seed(settings, "--workers", "0")
    assert first.exit_code == 0, first.stderr
    reports = rows(database, "test_reports")
    results = rows(database, "test_results")
    assert reports and all(r["attempt_id"] is not None for r in reports)
    assert "test reports" in first.stderr and f"({len(results)} results)" in first.stderr
    per_report: dict[int, list[dict[str, object]]] = defaultdict(list)
    for result in results:
        per_report[result["report_id"]].append(result)
    assert all(SUITE_SIZE[0] <= len(per_report[r["id"]]) <= SUITE_SIZE[1] for r in reports)
    for report in reports:  # a report's own counts are its results'
        own = per_report[report["id"]]
        assert report["cases"] == len(own)
        assert report["failed"] == sum(r["status"] in (1, 2) for r in own)
        assert report["flaky"] == sum(r["status"] == 0 and r["retries"] > 0 for r in own)
    assert any(r["status"] == 0 and r["retries"] == 1 for r in results)  # flaky in the job

    attempts = {a["id"]: a for a in rows(database, "run_attempts")}
    failed_in: dict[tuple[str, str, int], set[int]] = defaultdict(set)
    passed_in: dict[tuple[str, str, int], set[int]] = defaultdict(set)
    for report in reports:
        attempt = attempts[report["attempt_id"]]
        key = (str(attempt["pipeline_id"]), attempt["run_key"], attempt["attempt"])
        for result in per_report[report["id"]]:
            target = failed_in if result["status"] in (1, 2) else passed_in
            target[key].add(result["test_case_id"])
    rerun_passes = [
        key
        for key, failed in failed_in.items()
        if key[2] == 1 and failed & passed_in.get((key[0], key[1], 2), set())
    ]
    assert rerun_passes  # failed, then passed on the next attempt of the same commit

    # The day figures leave out the failures of infrastructure-wide failures (docs/metrics.md).
    infrastructure = {r["id"] for r in reports if r["infrastructure"]}
    assert infrastructure  # the demo has some
    counted = [
        r for r in results if not (r["status"] in (1, 2) and r["report_id"] in infrastructure)
    ]
    days = rows(database, "test_daily_rollups")
    assert sum(d["runs"] for d in days) == len(counted)
    assert sum(d["failures"] for d in days) == sum(r["status"] in (1, 2) for r in counted)
    quarantined = rows(database, "test_quarantine")
    assert quarantined and {q["source"] for q in quarantined} <= {"rule", "hand"}

    again = seed(settings, "--workers", "0")
    assert again.exit_code == 0, again.stderr
    assert count(database, "test_results") == len(results)
    assert sum(d["runs"] for d in rows(database, "test_daily_rollups")) == len(counted)
    assert count(database, "test_quarantine_history") == len(quarantined)
