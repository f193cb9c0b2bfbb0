"""A window's cost in money (issue 16 §4): ``/api/v1/analytics/costs`` on SQLite and
PostgreSQL, before the refresh (raw pieces, new runs) and after it (the runner rollup),
against figures worked out by hand from the job rows below: GitHub's minutes rounded up per
job (61 s are 2 minutes), GitLab's exact, a price change mid-window, a platform charge, a
label set without a rate and a job with none (unpriced, never 0), a failed attempt retried
and a cancelled one (waste), a team filter, every grouping, CSV, the window before."""

from __future__ import annotations

import csv
import io
import math
import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from cipulse.accounts.rates import RateService, parse_rate
from cipulse.accounts.service import AccountService
from cipulse.accounts.teams import TeamService
from cipulse.analytics.refresh import refresh_all
from cipulse.domain.billing import cost_micros, minutes_of, rate_for
from cipulse.storage import rates as rate_store
from cipulse.storage.database import Database
from cipulse.storage.schema import jobs, run_attempts
from cipulse.storage.schema import organisations as orgs
from tests.builders import runwatch_run
from tests.webhooks import Hooked, hooked_org, read

WINDOW = {"since": "2026-01-01T00:00:00Z", "until": "2026-01-08T00:00:00Z"}
UBUNTU, GPU, WINDOWS, SMALL = (
    "ubuntu-latest",
    "gpu,self-hosted",
    "windows-latest",
    ("saas-linux-small-amd64"),
)


@pytest.fixture
def org(database: Database) -> Hooked:
    found = hooked_org(database)
    RateService(database).set_rates(
        found.name,
        [
            parse_rate("github", UBUNTU, "0.008"),
            parse_rate("github", UBUNTU, "0.006", effective="2026-01-02"),
            parse_rate("github", "*gpu*", "0.05", "0.002"),
            parse_rate("gitlab", SMALL, "0.01"),
        ],
    )
    TeamService(database).add_rule(found.name, "repository", "acme/web", "Web")
    TeamService(database).add_rule(found.name, "repository", "acme/idle", "Idle")  # no runs
    return found


def job(name: str, labels: Any, seconds: float, started: str, **fields: Any) -> dict[str, Any]:
    found = {
        "name": name,
        "status": "success",
        "duration_seconds": seconds,
        "started_at": started,
        **fields,
    }
    if labels is not None:
        found["runner_labels"] = labels
    return found


def run(provider: str, repository: str, run_id: int, attempt: int, status: str, day: str,
        branch: str, jobs: list[dict[str, Any]]) -> dict[str, Any]:  # fmt: skip
    return runwatch_run(
        provider=provider,
        repository=repository,
        pipeline_name="CI" if provider == "github" else "deploy",
        run_url=None,
        run_id=run_id,
        run_attempt=attempt,
        status=status,
        started_at=f"{day}T10:00:00Z",
        completed_at=f"{day}T10:30:00Z",
        duration_seconds=None,
        compute_seconds=None,
        branch=branch,
        jobs=jobs,
    )


#: By hand, job by job (docs/metrics.md, "Cost in money").
DATASET = [
    # acme/web on GitHub, team Web, on main (the default branch).
    run("github", "acme/web", 1, 1, "failure", "2026-01-01", "main", [
        job("build", [UBUNTU], 61, "2026-01-01T10:00:00Z"),  # 2 min x 0.008 = 0.016
        job("test", [UBUNTU], 30, "2026-01-01T10:02:00Z", status="failure"),  # 1 x 0.008
    ]),  # failed and retried: waste 0.024 over 3 minutes
    run("github", "acme/web", 1, 2, "success", "2026-01-02", "main", [
        job("build", [UBUNTU], 60, "2026-01-02T10:00:00Z"),  # 1 min x 0.006 (new price)
        job("test", [UBUNTU], 61, "2026-01-02T10:01:00Z"),  # 2 min x 0.006 = 0.012
        job("train", ["self-hosted", "gpu"], 90, "2026-01-02T10:03:00Z"),  # 2 x 0.052 = 0.104
        job("win", [WINDOWS], 120, "2026-01-02T10:05:00Z"),  # 2 minutes, no rate: unpriced
    ]),
    # acme/api on GitLab, no team, on a feature branch (other): exact minutes.
    run("gitlab", "acme/api", 10, 1, "cancelled", "2026-01-03", "feature-x", [
        job("deploy", [SMALL], 90, "2026-01-03T10:00:00Z"),  # 1.5 min x 0.01 = 0.015
        job("notify", None, 30, "2026-01-03T10:02:00Z"),  # 0.5 min, no label set: unpriced
    ]),  # cancelled: waste 0.015 over 2 minutes, 0.5 of them unpriced
    run("gitlab", "acme/api", 11, 1, "success", "2026-01-04", "feature-x", [
        job("deploy", [SMALL], 45, "2026-01-04T10:00:00Z"),  # 0.75 min x 0.01 = 0.0075
    ]),
    # The window before: 120 s on ubuntu-latest at the old price, 2 x 0.008 = 0.016.
    run("github", "acme/web", 0, 1, "success", "2025-12-28", "main", [
        job("build", [UBUNTU], 120, "2025-12-28T10:00:00Z"),
    ]),
]  # fmt: skip

EXPECTED_TOTAL = {
    "cost": "0.1685",  # 0.016 + 0.008 + 0.006 + 0.012 + 0.104 + 0.015 + 0.0075
    "waste": "0.039",  # 0.024 + 0.015
    "complete": False,
    "jobs": 9,
    "billed_minutes": "12.750",  # 2 + 1 + 1 + 2 + 2 + 2 + 1.5 + 0.5 + 0.75
    "unpriced_minutes": "2.500",  # windows-latest 2, no label set 0.5
    "waste_billed_minutes": "5.000",
    "waste_unpriced_minutes": "0.500",
}


@pytest.fixture
def ingested(client: TestClient, database: Database, org: Hooked) -> Hooked:
    key = AccountService(database).create_key(org.name, scopes=("ingest",)).key
    for payload in DATASET:
        response = client.post("/api/v1/ingest", json=payload, headers={"X-API-Key": key})
        assert response.status_code == 200, response.text
    return org


def costs(client: TestClient, org: Hooked, **params: Any) -> dict[str, Any]:
    return read(client, org, "/api/v1/analytics/costs", **{**WINDOW, **params})  # type: ignore[no-any-return]


def groups(found: dict[str, Any]) -> dict[str | None, tuple[Any, ...]]:
    return {
        g["key"] if found["group_by"] != "pipeline" else g["name"]: (
            g["cost"],
            g["waste"],
            g["billed_minutes"],
            g["unpriced_minutes"],
        )
        for g in found["groups"]
    }


@pytest.mark.parametrize("refreshed", [False, True], ids=["raw", "rollups"])
def test_cost_and_waste_by_hand(
    client: TestClient, database: Database, ingested: Hooked, refreshed: bool
) -> None:
    if refreshed:
        assert refresh_all(database) > 0
    found = costs(client, ingested)
    assert found["currency"] == "USD"
    assert {k: found[k] for k in EXPECTED_TOTAL} == EXPECTED_TOTAL
    assert found["previous"]["cost"] == "0.016"
    assert found["changes"]["cost"]["change"] == pytest.approx((0.1685 - 0.016) / 0.016)
    assert found["sample"]["jobs"] == 9
    assert found["billing"] == {
        "github": "each job rounded up to the whole minute",
        "gitlab": "exact minutes",
    }
    assert groups(found) == {
        "CI": ("0.146", "0.024", "10.000", "2.000"),
        "deploy": ("0.0225", "0.015", "2.750", "0.500"),
    }
    by_label = groups(costs(client, ingested, group_by="label_set"))
    assert by_label == {
        UBUNTU: ("0.042", "0.024", "6.000", "0.000"),
        GPU: ("0.104", "0.00", "2.000", "0.000"),
        SMALL: ("0.0225", "0.015", "2.250", "0.000"),
        WINDOWS: (None, "0.00", "2.000", "2.000"),  # no waste: its attempt passed
        None: (None, None, "0.500", "0.500"),
    }
    assert groups(costs(client, ingested, group_by="repository")) == {
        "acme/web": ("0.146", "0.024", "10.000", "2.000"),
        "acme/api": ("0.0225", "0.015", "2.750", "0.500"),
    }
    assert groups(costs(client, ingested, group_by="team")) == {
        "Web": ("0.146", "0.024", "10.000", "2.000"),
        "unowned": ("0.0225", "0.015", "2.750", "0.500"),
        "Idle": ("0.00", "0.00", "0.000", "0.000"),  # every team the rules name is listed
    }
    assert groups(costs(client, ingested, group_by="branch_scope")) == {
        "default": ("0.146", "0.024", "10.000", "2.000"),
        "other": ("0.0225", "0.015", "2.750", "0.500"),
    }


def test_waste_of_a_label_set_without_a_rate_is_unknown(
    client: TestClient, ingested: Hooked
) -> None:
    """A group none of whose time is priced has an unknown cost (null), never 0."""
    found = {g["key"]: g for g in costs(client, ingested, group_by="label_set")["groups"]}
    assert (found[WINDOWS]["cost"], found[WINDOWS]["complete"]) == (None, False)
    assert (found[None]["name"], found[None]["waste"]) == ("unknown", None)  # all unpriced
    assert found[UBUNTU]["complete"] is True


@pytest.mark.parametrize("refreshed", [False, True], ids=["raw", "rollups"])
def test_a_team_filter_and_a_cut_window(
    client: TestClient, database: Database, ingested: Hooked, refreshed: bool
) -> None:
    if refreshed:
        refresh_all(database)
    team = costs(client, ingested, team="web", group_by="team")
    assert (team["cost"], team["waste"], team["billed_minutes"]) == ("0.146", "0.024", "10.000")
    assert [g["key"] for g in team["groups"]] == ["Web"]
    # From 11:00 on the first day: run 1's failed attempt (started at 10:00) is left out.
    cut = costs(client, ingested, since="2026-01-01T11:00:00Z")
    assert (cut["cost"], cut["waste"]) == ("0.1445", "0.015")
    assert Decimal(cut["billed_minutes"]) == Decimal("12.750") - 3


def test_runner_figures_under_a_team_filter(client: TestClient, ingested: Hooked) -> None:
    """``team=`` narrows the runner figures to the team's pipelines (it answered 500: the
    window was not scoped to the team), as it narrows the costs by label set."""
    for path in ("/api/v1/analytics/runners", "/api/v1/analytics/runners/hours"):
        read(client, ingested, path, team="web", **WINDOW)
    found = read(client, ingested, "/api/v1/analytics/runners", team="web", **WINDOW)
    assert {row["label_set"] for row in found["items"]} == {UBUNTU, GPU, WINDOWS}
    names = read(
        client, ingested, "/api/v1/analytics/runners/names", team="web", label_set=SMALL, **WINDOW
    )
    assert names["runners"] == []


def test_teams_answer_carries_cost_and_waste(client: TestClient, ingested: Hooked) -> None:
    found = read(client, ingested, "/api/v1/analytics/teams", **WINDOW)
    assert found["currency"] == "USD"
    rows = {row["team"]: row for row in found["items"]}
    assert (rows["Web"]["cost"], rows["Web"]["waste"]) == ("0.146", "0.024")
    assert rows["Web"]["unpriced_minutes"] == "2.000"
    assert rows["Web"]["previous"]["cost"] == "0.016"
    assert (rows["unowned"]["cost"], rows["unowned"]["waste"]) == ("0.0225", "0.015")


def test_without_a_rate_every_minute_is_unpriced(
    client: TestClient, database: Database, ingested: Hooked
) -> None:
    RateService(database).remove(ingested.name, "github", UBUNTU, None)
    RateService(database).remove(ingested.name, "github", "*gpu*", None)
    RateService(database).remove(ingested.name, "gitlab", SMALL, None)
    refresh_all(database)
    found = costs(client, ingested)
    assert (found["cost"], found["waste"], found["complete"]) == (None, None, False)
    assert found["unpriced_minutes"] == found["billed_minutes"] == "12.750"


def test_costs_as_csv_and_bad_parameters(client: TestClient, ingested: Hooked) -> None:
    response = client.get(
        "/api/v1/analytics/costs",
        params={**WINDOW, "group_by": "team", "format": "csv"},
        headers={"X-API-Key": ingested.read_key},
    )
    assert response.status_code == 200, response.text
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["key"], r["cost"], r["previous_cost"]) for r in rows] == [
        ("Web", "0.146", "0.016"),
        ("unowned", "0.0225", "0.00"),
        ("Idle", "0.00", "0.00"),
    ]
    bad = client.get(
        "/api/v1/analytics/costs",
        params={**WINDOW, "group_by": "branch", "format": "xml"},
        headers={"X-API-Key": ingested.read_key},
    )
    assert bad.status_code == 400
    assert "format" in bad.text and "group_by" in bad.text


# --- Consistency: the rollup read against a computation from the raw rows -----------------

LABELS = [[UBUNTU], ["self-hosted", "gpu"], [WINDOWS], [SMALL], None]
RANDOM_STATUSES = ["success"] * 5 + ["failure", "timed_out", "cancelled", "skipped"]


def random_history(seed: int) -> list[dict[str, Any]]:
    """Runs of two GitHub and one GitLab pipeline over ten days (some retried), their jobs on
    random label sets with random durations (whole milliseconds), a few without one."""
    rng = random.Random(seed)
    found = []
    for number in range(60):
        provider, repository = rng.choice(
            [("github", "acme/web"), ("github", "acme/app"), ("gitlab", "acme/api")]
        )
        day = datetime(2025, 12, 30, tzinfo=UTC) + timedelta(minutes=rng.randrange(0, 10 * 1440))
        for attempt in range(1, rng.choice([1, 1, 2, 3]) + 1):
            started = day + timedelta(hours=attempt)
            jobs = [
                job(
                    f"job{index}",
                    rng.choice(LABELS),
                    None if rng.random() < 0.05 else rng.randrange(1, 400_000) / 1000,
                    (started + timedelta(seconds=index)).isoformat(),
                    status=rng.choice(RANDOM_STATUSES),
                )
                for index in range(rng.randint(1, 4))
            ]
            for one in jobs:
                if one["duration_seconds"] is None:
                    del one["duration_seconds"]
            found.append(
                {
                    **run(
                        provider,
                        repository,
                        number,
                        attempt,
                        rng.choice(RANDOM_STATUSES),
                        "2026-01-01",
                        "main",
                        jobs,
                    ),
                    "started_at": started.isoformat(),
                    "completed_at": (started + timedelta(minutes=20)).isoformat(),
                }
            )
    return found


def reference(database: Database, since_ms: int, until_ms: int) -> dict[str | None, list[Any]]:
    """Per label set (and "total"): [cost, waste, billed and unpriced minutes], from the
    raw attempt and job rows and the definitions (docs/metrics.md), not the rollups: each
    (pipeline, label set, rate span) part priced and rounded once."""
    with database.read() as conn:
        rates = rate_store.rate_card(conn, conn.execute(sa.select(orgs.c.id)).scalar_one())
        attempts = [row._asdict() for row in conn.execute(sa.select(run_attempts))]
        job_rows = [row._asdict() for row in conn.execute(sa.select(jobs))]
    effective = {(rate.effective - date(1970, 1, 1)).days for rate in rates}
    latest: dict[tuple[str, str], int] = {}
    for a in attempts:
        key = (a["pipeline_id"], a["run_key"])
        latest[key] = max(latest.get(key, 0), a["attempt"])
    by_attempt: dict[str, list[dict[str, Any]]] = {}
    for row in job_rows:
        by_attempt.setdefault(row["attempt_id"], []).append(row)
    parts: dict[tuple[str, str, str, int], list[int]] = {}
    for a in attempts:
        if not since_ms <= a["started_at_ms"] < until_ms:
            continue
        waste = a["status"] in ("failure", "timed_out", "cancelled") or (
            latest[(a["pipeline_id"], a["run_key"])] > a["attempt"]
        )
        own = by_attempt.get(a["id"], [])
        nodes = {row["node_key"] for row in own}
        for row in own:
            if row["parent_node_key"] in nodes:
                continue
            ms = round((row["duration_seconds"] or 0) * 1000)
            if a["provider"] == "github":
                ms = math.ceil((row["duration_seconds"] or 0) / 60 - 1e-9) * 60_000
            day = a["started_at_ms"] // 86_400_000
            # Its rate span: from the latest effective day of the rate card up to its day.
            span = max(d for d in effective if d <= day)
            key = (a["provider"], row["runner_labels"] or "", a["pipeline_id"], span)
            part = parts.setdefault(key, [0, 0])
            part[0] += ms
            part[1] += ms if waste else 0
    found: dict[str | None, list[int]] = {}
    for (provider, labels, _, span), (billed, wasted) in sorted(parts.items()):
        when = datetime.fromtimestamp(span * 86_400, UTC).date()
        rate = rate_for(rates, provider, labels or None, when)
        for key in (labels or None, "total"):
            into = found.setdefault(key, [0, 0, 0, 0])
            into[2] += billed
            if rate is None:
                into[3] += billed
            else:
                into[0] += cost_micros(billed, rate.per_minute_micros)
                into[1] += cost_micros(wasted, rate.per_minute_micros)
    return {
        key: [cost, waste, str(minutes_of(billed)), str(minutes_of(unpriced))]
        for key, (cost, waste, billed, unpriced) in found.items()
    }


def answered(found: dict[str, Any]) -> list[Any]:
    """[cost, waste] in micro-units, [billed, unpriced] minutes as the answer writes them."""

    def micros(text: str | None) -> int:
        return 0 if text is None else int(Decimal(text) * 1_000_000)

    def ms(text: str) -> str:
        return text

    return [micros(found["cost"]), micros(found["waste"]), ms(found["billed_minutes"]),
            ms(found["unpriced_minutes"])]  # fmt: skip


@pytest.mark.parametrize("refreshed", [False, True], ids=["raw", "rollups"])
def test_window_cost_equals_a_computation_from_the_raw_rows(
    client: TestClient, database: Database, org: Hooked, refreshed: bool
) -> None:
    key = AccountService(database).create_key(org.name, scopes=("ingest",)).key
    for payload in random_history(7):
        response = client.post("/api/v1/ingest", json=payload, headers={"X-API-Key": key})
        assert response.status_code == 200, response.text
    if refreshed:
        refresh_all(database)
    for since, until in (
        ("2026-01-01T00:00:00Z", "2026-01-08T00:00:00Z"),
        ("2025-12-31T07:30:00Z", "2026-01-09T13:15:00Z"),  # edges read raw
    ):
        window = {"since": since, "until": until}
        expected = reference(database, *(iso_ms(t) for t in (since, until)))
        total = costs(client, org, **window)
        assert answered(total) == expected.pop("total")
        groups = costs(client, org, group_by="label_set", **window)["groups"]
        assert {g["key"]: answered(g) for g in groups} == expected


def iso_ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
