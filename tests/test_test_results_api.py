"""POST /api/v1/test-results over real HTTP (uvicorn), on SQLite and PostgreSQL."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import httpx
import pytest

from cipulse.accounts.service import AccountService
from cipulse.analytics import retention
from cipulse.analytics.refresh import refresh_all
from cipulse.settings import Settings
from cipulse.storage.database import Database
from tests.builders import RUNWATCH_EXAMPLE, runwatch_run, trunk_event, trunk_request
from tests.conftest import Tenant, count, make_tenant, rows
from tests.servers import threaded_server

REAL = Path(__file__).parent / "fixtures" / "real" / "junit"
PATH = "/api/v1/test-results"
PYTEST_RERUNS = (REAL / "pytest-9.2-rerunfailures-16.7.xml").read_bytes()
SUREFIRE_FLAKY = (REAL / "surefire-3.0.2-flakyFailure.xml").read_bytes()
JEST = (REAL / "jest-junit.xml").read_bytes()
#: The natural keys of RUNWATCH_EXAMPLE's run.
RUN = {"provider": "github", "repository": "acme/cool-project", "run_id": "789012345"}


@pytest.fixture
def served(settings: Settings) -> Iterator[str]:
    with threaded_server(settings) as base_url:
        yield base_url


def post(
    base: str,
    tenant: Tenant,
    body: bytes,
    params: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return httpx.post(
        base + PATH,
        content=body,
        params=params,
        headers={"Content-Type": "application/xml", **tenant.runwatch_headers, **(headers or {})},
        timeout=60,
    )


def case_elements(xml: bytes) -> int:
    """``<testcase>`` elements, counted with the standard library (not the converter)."""
    return len(ElementTree.fromstring(xml).findall(".//testcase"))


def stored_results(database: Database) -> dict[str, tuple[int, int, str | None]]:
    """name → (status, retries, message) of every stored result."""
    cases = {c["id"]: c["name"] for c in rows(database, "test_cases")}
    messages = {m["id"]: m["message"] for m in rows(database, "test_messages")}
    return {
        cases[r["test_case_id"]]: (r["status"], r["retries"], messages.get(r["message_id"]))
        for r in rows(database, "test_results")
    }


def test_pytest_reruns_before_their_run_join_it(
    served: str, tenant: Tenant, database: Database
) -> None:
    answer = post(served, tenant, PYTEST_RERUNS, {**RUN, "job": "test"})
    assert answer.status_code == 200, answer.text
    # 17 <testcase> elements; pytest-rerunfailures' 7 reruns fold into their test.
    assert case_elements(PYTEST_RERUNS) == 17
    assert answer.json() == {
        "success": True,
        "reports": 1,
        "stored": 10,
        "duplicates": 0,
        "pipeline_run_id": None,
        "waiting_for_run": True,
    }
    (report,) = rows(database, "test_reports")
    assert report["attempt_id"] is None and (report["cases"], report["failed"]) == (10, 3)
    assert (report["skipped"], report["flaky"], report["job_name"]) == (2, 1, "test")

    run = httpx.post(
        served + "/api/v1/ingest", json=RUNWATCH_EXAMPLE, headers=tenant.runwatch_headers
    )
    assert run.status_code == 200
    (report,) = rows(database, "test_reports")
    assert str(report["attempt_id"]) == run.json()["pipeline_run_id"]

    results = stored_results(database)
    assert results["test_flaky_network"] == (0, 1, None)  # passed on its rerun
    assert results["test_discount_is_wrong"][:2] == (1, 2)  # failed 3 times
    assert results["test_orders_need_db"][:2] == (2, 2)  # erred 3 times
    assert results["test_always_broken"] == (
        1,
        2,
        'ValueError: unexpected <tag> & "quote" in response',
    )
    assert results["test_payment"] == (3, 0, "payment gateway not configured")
    assert results["test_total_param[7]"] == (0, 0, None)
    assert count(database, "test_cases") == 10


def test_surefire_flaky_by_pipeline_run_id_and_sent_again(
    served: str, tenant: Tenant, database: Database
) -> None:
    run = httpx.post(
        served + "/api/v1/ingest", json=RUNWATCH_EXAMPLE, headers=tenant.runwatch_headers
    )
    run_id = run.json()["pipeline_run_id"]
    target = {"pipeline_run_id": run_id, "job": "test"}
    first = post(served, tenant, SUREFIRE_FLAKY, target)
    assert first.status_code == 200, first.text
    assert (first.json()["stored"], first.json()["waiting_for_run"]) == (1, False)
    assert stored_results(database) == {"testApp": (0, 2, "obvious fail")}
    (result,) = rows(database, "test_results")
    assert result["at_ms"] == 1705314600000  # the attempt's start
    # The same report again, gzip-compressed, and by the id in upper case: nothing more.
    upper = {**target, "pipeline_run_id": run_id.upper()}
    for body, params, headers in (
        (SUREFIRE_FLAKY, target, {}),
        (gzip.compress(SUREFIRE_FLAKY), target, {"Content-Encoding": "gzip"}),
        (SUREFIRE_FLAKY, upper, {}),
    ):
        again = post(served, tenant, body, params, headers)
        assert again.status_code == 200, again.text
        assert (again.json()["stored"], again.json()["duplicates"]) == (0, 1)
    assert (count(database, "test_reports"), count(database, "test_results")) == (1, 1)
    # Another job of the same attempt is another report.
    other = post(served, tenant, SUREFIRE_FLAKY, {**target, "job": "test-2"})
    assert other.json()["stored"] == 1 and count(database, "test_results") == 2


def test_multipart_reports_and_re_upload(served: str, tenant: Tenant, database: Database) -> None:
    files = [
        ("files", ("pytest.xml", PYTEST_RERUNS, "application/xml")),
        ("files", ("jest.xml.gz", gzip.compress(JEST), "application/gzip")),
    ]
    data = {**RUN, "run_attempt": "2", "job": "unit"}
    sent = httpx.post(served + PATH, files=files, data=data, headers=tenant.runwatch_headers)
    assert sent.status_code == 200, sent.text
    assert (sent.json()["reports"], sent.json()["stored"]) == (2, 10 + case_elements(JEST))
    again = httpx.post(served + PATH, files=files, data=data, headers=tenant.runwatch_headers)
    assert (again.json()["stored"], again.json()["duplicates"]) == (0, 10 + case_elements(JEST))
    assert count(database, "test_results") == 10 + case_elements(JEST)
    assert {r["attempt"] for r in rows(database, "test_reports")} == {2}


def test_results_join_the_pipeline_they_name(
    served: str, tenant: Tenant, database: Database
) -> None:
    """Run ids unique per pipeline only (Jenkins build numbers): the pipeline tells them
    apart, before and after the run arrives."""
    jenkins = {"provider": "other", "repository": "acme/app", "run_id": "42"}
    post(served, tenant, JEST, {**jenkins, "pipeline": "deploy"})
    for name in ("build", "deploy"):
        run = runwatch_run(
            provider="other",
            repository="acme/app",
            run_id=42,
            pipeline_name=name,
            pipeline_id=None,
            run_url=None,
        )
        assert (
            httpx.post(
                served + "/api/v1/ingest", json=run, headers=tenant.runwatch_headers
            ).status_code
            == 200
        )
    attempts = {a["id"]: a for a in rows(database, "run_attempts")}
    pipelines = {p["id"]: p["name"] for p in rows(database, "pipelines")}
    (report,) = rows(database, "test_reports")
    assert pipelines[attempts[str(report["attempt_id"])]["pipeline_id"]] == "deploy"
    ambiguous = post(served, tenant, PYTEST_RERUNS, jenkins)
    assert ambiguous.status_code == 400
    assert ambiguous.json()["error"] == (
        "pipeline: run 42 attempt 1 is a run of several pipelines (build, deploy); "
        "name one in pipeline"
    )


@pytest.mark.parametrize(
    ("params", "body", "status", "error"),
    [
        (
            {"run_attempt": "zero"},
            PYTEST_RERUNS,
            400,
            "run_attempt: not a whole number from 1 to 1000000; provider: required without "
            "pipeline_run_id; repository: required without pipeline_run_id; run_id: required "
            "without pipeline_run_id",
        ),
        (
            {"pipeline_run_id": "42", "repository": "acme/app"},
            PYTEST_RERUNS,
            400,
            "pipeline_run_id: not a pipeline run id (a UUID); repository: not with "
            "pipeline_run_id (name the run one way)",
        ),
        (
            {"pipeline_run_id": "6f1d3c52-5d0b-4c7e-9a57-0c2b1f0e8a11"},
            PYTEST_RERUNS,
            404,
            "pipeline_run_id: no run attempt with this id; to send results before their run, "
            "name it by provider, repository, run_id and run_attempt",
        ),
        (RUN, b"<testsuite><testcase name='x'>", 400, "body: not well-formed XML"),
        (
            RUN,
            b'<!DOCTYPE t [<!ENTITY x SYSTEM "file:///etc/passwd">]><testsuite name="&x;"/>',
            400,
            "body: refused: DTDForbidden (DTDs and entities are not accepted)",
        ),
        (RUN, b"<html/>", 400, "body: not a JUnit report: the root element is <html>"),
    ],
)
def test_bad_requests_name_what_is_wrong(
    served: str,
    tenant: Tenant,
    database: Database,
    params: dict[str, str],
    body: bytes,
    status: int,
    error: str,
) -> None:
    answer = post(served, tenant, body, params)
    assert answer.status_code == status
    assert answer.json()["error"].startswith(error)
    assert count(database, "test_reports") == count(database, "test_results") == 0


def test_a_bad_file_among_several_is_named_and_nothing_is_stored(
    served: str, tenant: Tenant, database: Database
) -> None:
    files = [
        ("files", ("good.xml", PYTEST_RERUNS, "application/xml")),
        ("files", ("bad.xml", b"<testsuite>", "application/xml")),
    ]
    answer = httpx.post(served + PATH, files=files, data=RUN, headers=tenant.runwatch_headers)
    assert answer.status_code == 400
    assert answer.json()["error"].startswith("files[1] (bad.xml): not well-formed XML")
    assert count(database, "test_results") == 0


def test_keys_are_checked(served: str, accounts: AccountService, database: Database) -> None:
    reader = make_tenant(accounts, "readers", scopes=("read",))
    assert post(served, reader, JEST, RUN).status_code == 403
    nobody = Tenant("nobody", "cp_not_a_key")
    assert post(served, nobody, JEST, RUN).status_code == 401
    assert count(database, "test_results") == 0


def test_too_large_is_refused(database_url: str, tenant: Tenant, database: Database) -> None:
    settings = Settings(database_url=database_url, max_test_results_bytes=64 * 1024)
    with threaded_server(settings) as base:
        big = b"<testsuite>" + b"<testcase name='t'/>" * 5000 + b"</testsuite>"
        assert post(base, tenant, big, RUN).status_code == 413
        bomb = gzip.compress(b"<testsuite>" + b" " * 10_000_000 + b"</testsuite>")
        answer = post(base, tenant, bomb, RUN)
        assert answer.status_code == 413
        assert (
            answer.json()["error"] == "body: larger than the limit of 65536 bytes once decompressed"
        )


def test_results_before_a_trunk_run_join_it(
    served: str, tenant: Tenant, database: Database
) -> None:
    """Trunk runs are keyed by their chain within the repository, as webhooks' are."""
    target = {"provider": "github", "repository": "acme/app", "run_id": "chain-9", "job": "unit"}
    assert post(served, tenant, JEST, target).json()["waiting_for_run"] is True
    root = trunk_event("root", "chain-9", kind="pipeline", key="ci", name="CI")
    sent = httpx.post(
        served + "/v1/metrics/trackEvents",
        json=trunk_request(root),
        headers=tenant.trunk_headers,
    )
    assert sent.status_code == 200, sent.text
    (attempt,) = rows(database, "run_attempts")
    (report,) = rows(database, "test_reports")
    assert str(report["attempt_id"]) == str(attempt["id"])
    # Now that the run is there, the same report is recognised, and another one joins at once.
    assert post(served, tenant, JEST, target).json()["duplicates"] == case_elements(JEST)
    joined = post(served, tenant, SUREFIRE_FLAKY, target).json()
    assert joined["pipeline_run_id"] == str(attempt["id"])


def test_the_same_report_sent_at_once_is_stored_once(
    served: str, tenant: Tenant, database: Database
) -> None:
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda _: post(served, tenant, PYTEST_RERUNS, RUN), range(6)))
    assert [a.status_code for a in answers] == [200] * 6
    assert sorted(a.json()["stored"] for a in answers) == [0, 0, 0, 0, 0, 10]
    assert count(database, "test_results") == 10
    assert sum(r["runs"] for r in rows(database, "test_daily_rollups")) == 10


def test_daily_rollups_add_up_the_results(served: str, tenant: Tenant, database: Database) -> None:
    """Two reports of the same tests on the attempt's day, one sent twice: each test's day
    row holds what its raw result rows say, once."""
    run = httpx.post(
        served + "/api/v1/ingest", json=RUNWATCH_EXAMPLE, headers=tenant.runwatch_headers
    )
    target = {"pipeline_run_id": run.json()["pipeline_run_id"]}
    plain = (REAL / "pytest-9.2.xml").read_bytes()
    for body, job in ((plain, "py311"), (PYTEST_RERUNS, "py312"), (plain, "py311")):
        assert post(served, tenant, body, {**target, "job": job}).status_code == 200
    expected: dict[int, dict[str, Any]] = {}
    for result in rows(database, "test_results"):
        row = expected.setdefault(
            result["test_case_id"],
            {"runs": 0, "failures": 0, "skipped": 0, "flaky": 0, "durations": []},
        )
        row["runs"] += 1
        row["failures"] += result["status"] in (1, 2)
        row["skipped"] += result["status"] == 3
        row["flaky"] += result["status"] == 0 and result["retries"] > 0
        row["durations"].append(result["duration_ms"])
    stored = rows(database, "test_daily_rollups")
    assert {r["day"] for r in stored} == {1705314600000 // 86_400_000}
    assert len(stored) == len(expected) == 10
    for rollup in stored:
        want = expected[rollup["test_case_id"]]
        timed = [d for d in want["durations"] if d is not None]
        assert (rollup["runs"], rollup["failures"], rollup["skipped"], rollup["flaky"]) == (
            want["runs"],
            want["failures"],
            want["skipped"],
            want["flaky"],
        )
        assert (rollup["timed"], rollup["duration_ms_sum"]) == (len(timed), sum(timed))
        assert rollup["duration_histogram"] is None  # left for a refresher
    assert sum(r["runs"] for r in stored) == 20
    assert sum(r["flaky"] for r in stored) == 1


def test_form_fields_that_cannot_be_stored_are_named(
    served: str, tenant: Tenant, database: Database
) -> None:
    files = [("files", ("junit.xml", JEST, "application/xml"))]
    data = {**RUN, "job": "unit\x00tests"}
    answer = httpx.post(served + PATH, files=files, data=data, headers=tenant.runwatch_headers)
    assert answer.status_code == 400
    assert answer.json()["error"].startswith("job: ")
    assert count(database, "test_results") == 0


def test_a_purge_deletes_the_results_of_purged_days(
    served: str, tenant: Tenant, accounts: AccountService, database: Database
) -> None:
    run = httpx.post(
        served + "/api/v1/ingest", json=RUNWATCH_EXAMPLE, headers=tenant.runwatch_headers
    )
    old = post(served, tenant, PYTEST_RERUNS, {"pipeline_run_id": run.json()["pipeline_run_id"]})
    waiting = post(served, tenant, JEST, {**RUN, "run_id": "2"})  # timed now
    assert old.json()["stored"] == 10 and waiting.json()["stored"] == case_elements(JEST)
    organisation = accounts.organisation("acme")
    first_kept_day = 1705314600000 // 86_400_000 + 1
    refresh_all(database)  # else the run's day, awaiting the refresher, holds the cut-off back
    dry = retention.purge(database, organisation, first_kept_day, dry_run=True, rest=lambda _: True)
    assert dry.test_results == 10 and count(database, "test_results") == 10 + case_elements(JEST)
    report = retention.purge(database, organisation, first_kept_day, rest=lambda _: True)
    assert report.test_results == 10
    assert "; 10 test results timed before the cut-off" in retention.describe(report)
    assert count(database, "test_results") == case_elements(JEST)
    assert [r["run_key"] for r in rows(database, "test_reports")] == ["2"]
    assert count(database, "test_daily_rollups") == 10 + case_elements(JEST)  # the figures stay
