"""One meaning per word (issue 13 §2), on SQLite and PostgreSQL, with expected figures worked
out by hand from the runs posted here: red now versus red at the end of a past window, "no
earlier data" instead of a change, and windows still under way compared like with like."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from cipulse.accounts.service import AccountService
from cipulse.accounts.users import UserService
from cipulse.analytics.buckets import Interval
from cipulse.analytics.window import window_from
from cipulse.storage.database import Database
from cipulse.web.dashboard.kpis import kpi_cards
from tests.builders import runwatch_run
from tests.conftest import Tenant
from tests.presented import PresentedService
from tests.test_dashboard import PASSWORD, ingest, sign_in
from tests.test_read_api import outcome


@pytest.fixture
def signed_in(client: TestClient, tenant: Tenant, database: Database) -> TestClient:
    UserService(database).create_user("ada@example.com", tenant.name, PASSWORD)
    assert sign_in(client, "ada@example.com").status_code == 303
    return client


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def org_of(database: Database) -> str:
    return AccountService(database).organisation("acme").id


def service_at(database: Database, now: str) -> PresentedService:
    return PresentedService(database, clock=lambda: ms(now))


def window(since: str, until: str) -> Any:
    return window_from({"since": since, "until": until}, datetime.now(UTC))


#: main: red from 2024-01-07 00:00 and green again on 2024-01-20; dev: red since 2024-01-03.
RED_THEN_GREEN = [
    outcome(1, "success", "2024-01-01T00:00:00Z"),
    outcome(2, "failure", "2024-01-07T00:00:00Z"),
    outcome(3, "success", "2024-01-20T00:00:00Z"),
    outcome(4, "failure", "2024-01-03T00:00:00Z", branch="dev"),
]


def test_a_past_window_shows_what_was_red_at_its_end_not_red_now(
    client: TestClient, tenant: Tenant, database: Database
) -> None:
    ingest(client, tenant, RED_THEN_GREEN)
    org = org_of(database)
    service = service_at(database, "2024-02-01T12:00:00Z")
    past = window("2024-01-01T00:00:00Z", "2024-01-08T00:00:00Z")
    found = service.recovery(org, past)
    assert found["window_ends_now"] is False
    assert found["red_at"] == "2024-01-08T00:00:00Z"
    assert found["red_now"] is None and found["red_now_count"] is None
    assert found["red_at_end_count"] == 2
    # How long each had been red at the window's end, not until today.
    assert [
        (p["branch"], p["red_since"], p["red_seconds_at_end"]) for p in found["red_at_end"]
    ] == [
        ("dev", "2024-01-03T00:00:00Z", 5 * 86400),
        ("main", "2024-01-07T00:00:00Z", 86400),
    ]
    summary = service.summary(org, past)
    assert (summary["red_at_end"], summary["red_now"]) == (2, None)

    # A window that ends now or later: what is red at its end is red now, measured to now.
    now = "2024-01-25T06:00:00Z"
    current = window("2024-01-19T00:00:00Z", "2024-01-26T00:00:00Z")
    found = service_at(database, now).recovery(org, current)
    assert found["window_ends_now"] is True
    assert found["red_at"] == now
    assert found["red_now_count"] == found["red_at_end_count"] == 1
    assert found["red_now"] == found["red_at_end"]
    assert [(p["branch"], p["red_seconds_at_end"]) for p in found["red_now"]] == [
        ("dev", (ms(now) - ms("2024-01-03T00:00:00Z")) / 1000)
    ]
    assert service_at(database, now).summary(org, current)["red_now"] == 1


def test_the_overview_labels_a_past_window_red_at_its_end(
    signed_in: TestClient, tenant: Tenant
) -> None:
    ingest(signed_in, tenant, RED_THEN_GREEN)
    page = signed_in.get("/?since=2024-01-01&until=2024-01-07&branches=default").text
    heading = re.search(r'<h2 id="red-now-title">([^<]*)</h2>', page)
    assert heading is not None
    assert heading.group(1) == (
        "Red at the end of the window (2024-01-08 00:00 UTC) on default branches"
    )
    assert "red for 1d 00h" not in page and "red for 24h 00m at the window's end" in page
    # Today's window: "Red right now".
    assert 'id="red-now-title">Red right now on default branches' in signed_in.get("/").text


def attempt(run_id: int, status: str, started_at: str, compute: float = 60.0) -> dict[str, Any]:
    started = datetime.fromisoformat(started_at.replace("Z", "+00:00"))
    return runwatch_run(
        run_id=run_id,
        status=status,
        started_at=started_at,
        completed_at=(started + timedelta(seconds=compute)).isoformat(),
        duration_seconds=compute,
        compute_seconds=compute,
        jobs=[],
    )


def test_no_earlier_data_is_not_a_change(
    client: TestClient, tenant: Tenant, database: Database
) -> None:
    ingest(
        client,
        tenant,
        [attempt(1, "success", "2024-01-02T10:00:00Z"), attempt(2, "failure", "2024-01-03T10:00Z")],
    )
    org = org_of(database)
    service = service_at(database, "2024-03-01T00:00:00Z")
    summary = service.summary(org, window("2024-01-01T00:00:00Z", "2024-01-08T00:00:00Z"))
    assert summary["previous"]["runs"] == 0
    for metric, change in summary["changes"].items():
        assert (change["change"], change["reason"]) == (None, "no_earlier_data"), metric
    cards = {card.metric: card for card in kpi_cards(summary)}
    assert cards["runs"].change == "no earlier data" and cards["runs"].direction == ""
    assert cards["compute_seconds"].change == "no earlier data"

    # One week on: 2 runs before, 3 now (+50%), success 1/2 then 2/3 (+16.7 points); no
    # flaky runs either week (a relative change from 0 to 0 is no change); compute from
    # 120 s to 0 (-100%).
    ingest(
        client,
        tenant,
        [
            attempt(3, "success", "2024-01-09T10:00:00Z", 0),
            attempt(4, "success", "2024-01-10T10:00:00Z", 0),
            attempt(5, "failure", "2024-01-11T10:00:00Z", 0),
        ],
    )
    summary = service.summary(org, window("2024-01-08T00:00:00Z", "2024-01-15T00:00:00Z"))
    changes = summary["changes"]
    assert changes["runs"] == {"kind": "relative", "change": pytest.approx(0.5), "reason": None}
    assert changes["success_rate"]["kind"] == "difference"
    assert changes["success_rate"]["change"] == pytest.approx(2 / 3 - 1 / 2)
    assert changes["flaky_runs"] == {"kind": "relative", "change": 0.0, "reason": None}
    assert changes["mttr_seconds"]["reason"] == "no_value"
    cards = {card.metric: card for card in kpi_cards(summary)}
    assert cards["runs"].change == "+50%" and cards["success_rate"].change == "+16.7 pts"
    assert changes["compute_seconds"]["change"] == pytest.approx(-1.0)
    # A third week: compute from 0 to 60 s is "was 0 before", not "+7,832%".
    ingest(client, tenant, [attempt(6, "success", "2024-01-16T10:00:00Z", 60)])
    third = service.summary(org, window("2024-01-15T00:00:00Z", "2024-01-22T00:00:00Z"))
    assert third["changes"]["compute_seconds"] == {
        "kind": "relative",
        "change": None,
        "reason": "was_zero",
    }
    assert third["changes"]["runs"]["change"] == pytest.approx(-2 / 3)
    cards = {card.metric: card for card in kpi_cards(third)}
    assert cards["compute_seconds"].change == "was 0 before"


def test_a_window_under_way_is_compared_with_the_same_elapsed_time(
    client: TestClient, tenant: Tenant, database: Database
) -> None:
    """At 04:48 on the 7th day of a 7-day window (6.2 days elapsed), the previous window
    counts only its first 6.2 days, and runs per day are per elapsed day."""
    previous_week = [
        attempt(1, "success", "2024-01-01T10:00:00Z"),
        attempt(2, "success", "2024-01-07T04:00:00Z"),  # within the first 6.2 days
        attempt(3, "failure", "2024-01-07T05:00:00Z"),  # after them: not compared
        attempt(4, "failure", "2024-01-07T22:00:00Z"),  # after them: not compared
    ]
    this_week = [
        attempt(5, "success", "2024-01-08T10:00:00Z"),
        attempt(6, "success", "2024-01-14T03:00:00Z"),
    ]
    ingest(client, tenant, previous_week + this_week)
    org = org_of(database)
    now = "2024-01-14T04:48:00Z"
    week = window("2024-01-08T00:00:00Z", "2024-01-15T00:00:00Z")
    service = service_at(database, now)
    summary = service.summary(org, week)
    assert summary["window"]["partial"] is True
    assert summary["window"]["elapsed_until"] == now
    assert summary["previous"]["window"]["since"] == "2024-01-01T00:00:00Z"
    assert summary["previous"]["window"]["until"] == "2024-01-07T04:48:00Z"
    assert (summary["runs"], summary["previous"]["runs"]) == (2, 2)
    assert summary["changes"]["runs"]["change"] == 0.0
    assert summary["previous"]["success_rate"] == 1.0
    assert summary["throughput_per_day"] == pytest.approx(2 / 6.2)
    assert summary["previous"]["throughput_per_day"] == pytest.approx(2 / 6.2)
    assert kpi_cards(summary)[0].previous == "previous, first 6.2d 2"

    # A window that has ended is compared with the whole window before it.
    later = service_at(database, "2024-02-01T00:00:00Z").summary(org, week)
    assert later["window"]["partial"] is False
    assert (later["previous"]["runs"], later["throughput_per_day"]) == (4, pytest.approx(2 / 7))

    # The bucket still under way is marked, in the series and the charts.
    series = service.run_series(org, week, Interval.DAY)
    assert [bucket["partial"] for bucket in series] == [False] * 6 + [True]
    points = service.timeseries(org, week, "runs", Interval.DAY)["points"]
    assert [(p["value"], p["partial"]) for p in points][-1] == (1, True)
    mttr = service.timeseries(org, week, "mttr_seconds", Interval.DAY)["points"]
    assert [p["partial"] for p in mttr] == [False] * 6 + [True]


def test_every_overview_chart_marks_today_as_so_far(signed_in: TestClient, tenant: Tenant) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    ingest(signed_in, tenant, [attempt(1, "success", (now - timedelta(minutes=5)).isoformat())])
    page = signed_in.get("/?range=7d").text
    specs = re.findall(r'<script type="application/json" id="chart-[a-z]+">(.*?)</script>', page)
    assert len(specs) == 4
    for spec in specs:
        assert '"partial":[false,false,false,false,false,false,true]' in spec.replace(" ", "")
    assert page.count("(so far)") == 4
