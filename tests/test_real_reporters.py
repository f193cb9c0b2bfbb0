"""What the real RunWatch GitHub reporter sends (tests/fixtures/real/runwatch-github-reporter,
recorded by running its releases), posted byte for byte, to the path and with the key header
each release uses, to a real server over HTTP, on SQLite and PostgreSQL: never refused for a
timing or status quirk, stored with what is trustworthy, and every figure the read API gives
equal to the one this test computes from the payloads by the documented rules, unknown
durations left out."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from cipulse.accounts.service import AccountService
from cipulse.accounts.users import UserService
from cipulse.analytics.refresh import refresh_all
from cipulse.settings import Settings
from cipulse.storage.database import Database
from tests.builders import REAL_FIXTURES
from tests.conftest import Tenant
from tests.servers import threaded_server

FOLDER = REAL_FIXTURES / "runwatch-github-reporter"
REQUESTS: dict[str, dict[str, Any]] = json.loads((FOLDER / "requests.json").read_text())
RELEASES = sorted({request["release"] for request in REQUESTS.values()})
WINDOW = {"since": "2026-01-12T00:00:00Z", "until": "2026-01-15T00:00:00Z"}
STATUSES = ("success", "failure", "cancelled", "running", "queued", "pending", "skipped")
ALL_STATUSES = ",".join((*STATUSES, "timed_out"))
#: The documented mapping (docs/integrations.md, "Status mapping") of what the reporter sends,
#: by (raw status, has completed_at).
EXPECTED_STATUS = {
    **{(status, done): status for status in (*STATUSES, "timed_out") for done in (True, False)},
    ("unknown", False): "running",
    ("unknown", True): "failure",
}
PASSWORD = "correct horse battery staple"


def _instant(stamp: str | None) -> datetime | None:
    return None if stamp is None else datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def _duration(item: dict[str, Any]) -> tuple[float | None, bool]:
    """The duration the docs say is stored, and whether a sent one was thrown out."""
    started, completed = _instant(item.get("started_at")), _instant(item.get("completed_at"))
    sent = item.get("duration_seconds")
    span = (completed - started).total_seconds() if started and completed else None
    impossible = (span is not None and span < 0) or (sent is not None and sent < 0)
    if sent is not None and span is not None and sent > span + 1:
        impossible = True
    if impossible:
        return None, sent is not None
    return (sent if sent is not None else span), False


def expected_run(payload: dict[str, Any]) -> dict[str, Any]:
    """The run attempt as the docs say it is stored, computed here from the payload."""
    jobs = []
    thrown_out = []
    for index, job in enumerate(payload.get("jobs", [])):
        duration, sent_impossible = _duration(job)
        if sent_impossible:
            thrown_out.append(index)
        jobs.append(
            {
                "name": job["name"],
                "status": EXPECTED_STATUS[job["status"], "completed_at" in job],
                "raw_status": job["status"],
                "duration_seconds": duration,
                "job_id": job.get("job_id"),
                "job_url": job.get("job_url"),
                "started_at": job.get("started_at"),
                "completed_at": job.get("completed_at"),
            }
        )
    known = [job["duration_seconds"] for job in jobs if job["duration_seconds"] is not None]
    compute = payload.get("compute_seconds")
    if compute is None or compute < 0 or thrown_out:
        compute = sum(known) if known else None
    return {
        "status": EXPECTED_STATUS[payload["status"], "completed_at" in payload],
        "raw_status": payload["status"],
        "mode": payload["mode"],
        "duration_seconds": _duration(payload)[0],
        "compute_seconds": compute,
        "jobs": jobs,
        "warned_jobs": [
            i
            for i, job in enumerate(payload.get("jobs", []))
            if _duration(job)[0] is None and ("duration_seconds" in job or "completed_at" in job)
        ],
    }


def nearest_rank(values: list[float], share: float) -> float | None:
    ordered = sorted(values)
    return ordered[math.ceil(share * len(ordered)) - 1] if ordered else None


def check_figures(
    server: str, reader: dict[str, str], runs: list[dict[str, Any]], statuses: str | None
) -> None:
    """The summary's and the jobs' figures over every attempt and job of the window equal
    those computed here by the documented rules, unknown durations left out. Durations
    count for the ``statuses`` filtered (the default: success only); without a status
    filter, the read takes whole days from the rollups once they are refreshed."""
    params = {**WINDOW, **({"status": statuses} if statuses else {})}
    counted = set(statuses.split(",")) if statuses else {"success"}
    summary = httpx.get(f"{server}/api/v1/analytics/summary", params=params, headers=reader).json()
    durations = [
        run["duration_seconds"]
        for run in runs
        if run["duration_seconds"] is not None and run["status"] in counted
    ]
    assert summary["runs"] == len(runs)
    assert summary["by_status"] == {
        status: sum(run["status"] == status for run in runs) for status in summary["by_status"]
    }
    assert summary["compute_seconds"] == sum(run["compute_seconds"] or 0 for run in runs)
    assert summary["p50_duration_seconds"] == nearest_rank(durations, 0.5)
    mean = summary["mean_duration_seconds"]
    assert mean == (pytest.approx(sum(durations) / len(durations)) if durations else None)

    jobs_answer = httpx.get(f"{server}/api/v1/analytics/jobs", params=params, headers=reader).json()
    figures = {row["job"]: row for row in jobs_answer["items"]}
    executions: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        for job in run["jobs"]:
            executions.setdefault(job["name"], []).append(job)
    assert set(figures) == set(executions)
    for name, ran in executions.items():
        known = [job["duration_seconds"] for job in ran if job["duration_seconds"] is not None]
        assert figures[name]["runs"] == len(ran), name
        assert figures[name]["total_duration_seconds"] == sum(known), name
        known = [
            job["duration_seconds"]
            for job in ran
            if job["duration_seconds"] is not None and job["status"] in counted
        ]
        assert figures[name]["p50_duration_seconds"] == nearest_rank(known, 0.5), name
        mean = figures[name]["mean_duration_seconds"]
        assert mean == (pytest.approx(sum(known) / len(known)) if known else None), name


@pytest.fixture
def server(settings: Settings) -> Iterator[str]:
    with threaded_server(settings) as url:
        yield url


def post_as_recorded(url: str, name: str, key: str) -> httpx.Response:
    recorded = REQUESTS[name]
    headers = {k: v.replace("<key>", key) for k, v in recorded["headers"].items()}
    body = (FOLDER / name).read_bytes()
    return httpx.post(url + recorded["path"], content=body, headers=headers, timeout=30)


@pytest.mark.parametrize("release", RELEASES)
def test_every_payload_of_a_release_is_stored_with_what_can_be_trusted(
    server: str, settings: Settings, tenant: Tenant, accounts: AccountService, release: str
) -> None:
    reader = {"X-API-Key": accounts.create_key(tenant.name, scopes=("read",)).key}
    stored: dict[str, dict[str, Any]] = {}
    for name in sorted(n for n, r in REQUESTS.items() if r["release"] == release):
        payload = json.loads((FOLDER / name).read_text())
        expected = expected_run(payload)
        response = post_as_recorded(server, name, tenant.key)
        assert response.status_code == 200, f"{name}: {response.text}"
        answer = response.json()
        assert answer["success"] is True
        warnings = answer.get("warnings", [])
        # One warning per job whose duration is unknown, naming it, and one for a compute
        # that was replaced; nothing else.
        assert [w.split(".")[0] for w in warnings if w.startswith("jobs[")] == [
            f"jobs[{i}]" for i in expected["warned_jobs"]
        ]
        replaced = payload.get("compute_seconds") not in (None, expected["compute_seconds"])
        assert any(w.startswith("compute_seconds:") for w in warnings) is replaced
        run = httpx.get(f"{server}/api/v1/runs/{answer['pipeline_run_id']}", headers=reader)
        detail = run.json()
        stored[name] = {"expected": expected, "detail": detail}
        for field in ("status", "raw_status", "mode", "duration_seconds", "compute_seconds"):
            assert detail[field] == expected[field], f"{name}: {field}"
        assert detail["started_at"] == payload["started_at"]
        assert detail["completed_at"] == payload.get("completed_at")
        got = [
            {key: job[key] for key in expected["jobs"][0]}
            for job in sorted(detail["jobs"], key=lambda job: job["job_id"])
        ]
        assert got == sorted(expected["jobs"], key=lambda job: job["job_id"])

    listed = httpx.get(f"{server}/api/v1/runs", params=WINDOW, headers=reader).json()["items"]
    assert sorted(run["mode"] for run in listed) == sorted(
        e["expected"]["mode"] for e in stored.values()
    )
    # The figures, computed here, read from the stored runs, then from the rollups.
    runs = [entry["expected"] for entry in stored.values()]
    check_figures(server, reader, runs, ALL_STATUSES)
    check_figures(server, reader, runs, None)
    database = Database(settings)
    refresh_all(database)  # (unless the server's own refresher was first)
    database.dispose()
    check_figures(server, reader, runs, None)

    # The run page links each job to its page on GitHub.
    UserService(accounts.database).create_user("ada@example.com", tenant.name, PASSWORD)
    with httpx.Client(base_url=server, timeout=10, follow_redirects=True) as browser:
        form = browser.get("/sign-in").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', form)
        assert csrf is not None
        browser.post(
            "/sign-in",
            data={"email": "ada@example.com", "password": PASSWORD, "csrf": csrf[1], "next": "/"},
        )
        for entry in stored.values():
            page = browser.get(f"/runs/{entry['detail']['id']}").text
            for job in entry["expected"]["jobs"]:
                assert f'href="{job["job_url"]}"' in page
