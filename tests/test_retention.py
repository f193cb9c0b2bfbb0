"""Retention on SQLite and PostgreSQL: a purge deletes the raw runs of whole days before a
cut-off in batches, and every figure of whole purged days stays what it was (rollups are
left in place and never recomputed from what is left); raw-only reads of purged days find
nothing; a rebuild, later ingest and red periods open across the cut-off keep the figures;
`cipulse purge` and the server's daily purge (CIPULSE_RETENTION_DAYS)."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import timedelta
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from starlette.testclient import TestClient

from cipulse.analytics import retention
from cipulse.analytics.buckets import Interval
from cipulse.analytics.refresh import rebuild, refresh_all
from cipulse.cli.main import cli
from cipulse.domain.model import Organisation
from cipulse.domain.window import DAY_MS, Filters, Window
from cipulse.ingestion.formats import parse_trunk
from cipulse.ingestion.service import IngestRequest, IngestService
from cipulse.settings import Settings
from cipulse.storage import retention as store
from cipulse.storage.database import Database
from cipulse.storage.rollups import marks as rollup_marks
from cipulse.storage.rollups import set_aside as rollup_failures
from cipulse.storage.schema import jobs, run_attempts, webhook_deliveries
from cipulse.web.app import create_app
from tests.builders import runwatch_run, trunk_event, trunk_request
from tests.conftest import Tenant, count, rows
from tests.presented import PresentedService
from tests.test_analytics_consistency import (
    PERCENTILES,
    START,
    ingest,
    ms,
    random_attempts,
    random_metric_events,
    store_org,
)

CUT = START + timedelta(days=20)  # the first day kept
CUT_DAY = ms(CUT) // DAY_MS

#: Windows of whole days: inside the purged days, across the cut-off, the whole history
#: (with its 7- and 28-day blocks), and a branch scope (stored rows of their own).
WHOLE_DAYS = [
    Window(ms(START), ms(CUT)),
    Window(ms(START + timedelta(days=3)), ms(START + timedelta(days=11))),
    Window(ms(START + timedelta(days=6)), ms(START + timedelta(days=31))),
    Window(ms(START - timedelta(days=7)), ms(START + timedelta(days=56))),
    Window(ms(START), ms(CUT), Filters(branch_scope="default")),
]


ROLLUP_TABLES = ("run_rollups", "job_rollups", "metric_rollups", "rollup_repeats", "red_periods")


def no_rest(_seconds: float) -> bool:
    return True


def iso(moment: Any) -> str:
    return str(moment.isoformat())


def red_across_the_cut() -> list[dict[str, Any]]:
    """A pipeline red on main from day 15 until the retry of a run, just after the cut-off,
    passes: a red period across the cut-off, and a run with attempts on both sides of it;
    and a run of another branch of the pipeline, during that period."""
    day = timedelta(days=1)

    def attempt(
        run_id: int, number: int, status: str, when: Any, branch: str = "main"
    ) -> dict[str, Any]:
        return runwatch_run(
            pipeline_name="release",
            run_id=run_id,
            run_attempt=number,
            status=status,
            branch=branch,
            started_at=iso(when),
            completed_at=iso(when + timedelta(minutes=5)),
            duration_seconds=300,
            jobs=[],
        )

    return [
        attempt(1001, 1, "success", START + 10 * day),
        attempt(1002, 1, "failure", START + 15 * day),
        attempt(1003, 1, "success", START + 25 * day),
        attempt(1004, 1, "failure", CUT - timedelta(hours=2)),
        attempt(1004, 2, "success", CUT + timedelta(hours=2)),
        attempt(1006, 1, "success", START + 17 * day, branch="feature"),  # another branch
    ]


def figures(service: PresentedService, org_id: str, window: Window) -> dict[str, Any]:
    """Everything a whole-days window shows that the rollups serve."""
    jobs_page, _ = service.jobs(org_id, window)
    flaky_page, _ = service.flaky(org_id, window)
    pipelines_page, _ = service.pipelines(org_id, window)
    recovery = service.recovery(org_id, window)
    return {
        "summary": service.summary(org_id, window),
        "days": service.run_series(org_id, window, Interval.DAY),
        "weeks": service.timeseries(org_id, window, "runs", Interval.WEEK)["points"],
        "jobs": sorted(jobs_page, key=lambda row: (row["pipeline_id"], row["definition_key"])),
        "flaky": sorted(flaky_page, key=lambda row: (row["pipeline_id"], row["definition_key"])),
        "pipelines": sorted(pipelines_page, key=lambda row: row["id"]),
        "recovery": {k: v for k, v in recovery.items() if k != "window"},
    }


def assert_same(got: Any, expected: Any, name: str = "") -> None:
    """Equal figures: sums added in another order may differ in the last bits, and
    percentiles read from histograms within their 1% (docs/metrics.md)."""
    if isinstance(expected, dict):
        assert isinstance(got, dict) and got.keys() == expected.keys(), name
        for key, value in expected.items():
            assert_same(got[key], value, f"{name}.{key}")
    elif isinstance(expected, list):
        assert isinstance(got, list) and len(got) == len(expected), name
        for index, (item, value) in enumerate(zip(got, expected, strict=True)):
            assert_same(item, value, f"{name}[{index}]")
    elif isinstance(expected, float) and not isinstance(got, bool):
        tolerance = 0.01 if name.rsplit(".", 1)[-1] in PERCENTILES else 1e-9
        assert got == pytest.approx(expected, rel=tolerance), name
    else:
        assert got == expected, name


def all_figures(database: Database, org_id: str) -> list[dict[str, Any]]:
    service = PresentedService(database)
    return [figures(service, org_id, window) for window in WHOLE_DAYS]


def seeded(database: Database, tenant: Tenant) -> str:
    """Random runs with jobs over 40 days, Trunk runs with custom metrics over 20 days, and
    ``red_across_the_cut``."""
    ingest(database, tenant, random_attempts(5, 150, with_jobs=True) + red_across_the_cut())
    events = random_metric_events(5, 60)
    requests = [
        IngestRequest(
            parse_trunk(orjson.dumps(trunk_request(*events[i : i + 50]))), api_key=tenant.key
        )
        for i in range(0, len(events), 50)
    ]
    IngestService(database).ingest_batch(requests)
    return store_org(database)


def organisation(database: Database) -> Organisation:
    from cipulse.accounts.service import AccountService

    return AccountService(database).organisation("acme")


def purge(database: Database, **options: Any) -> retention.PurgeReport:
    return retention.purge(database, organisation(database), CUT_DAY, rest=no_rest, **options)


def attempts_before(database: Database, when_ms: int) -> int:
    a = run_attempts
    with database.read() as conn:
        return conn.execute(
            sa.select(sa.func.count()).where(a.c.started_at_ms < when_ms)
        ).scalar_one()


@pytest.mark.parametrize("refreshed", [True, False])
def test_whole_purged_days_keep_every_figure(
    database: Database, tenant: Tenant, monkeypatch: pytest.MonkeyPatch, refreshed: bool
) -> None:
    """Refreshed or not before the purge (a purge refreshes what it purges first), in small
    batches; then a rebuild, and ingest of a purged day, change nothing."""
    monkeypatch.setattr(store, "ATTEMPTS_PER_BATCH", 40)
    org_id = seeded(database, tenant)
    if refreshed:
        refresh_all(database)
    expected = all_figures(database, org_id)
    stored = [count(database, t) for t in ROLLUP_TABLES]

    report = purge(database)

    assert report.purged_before_day == CUT_DAY and not report.stopped
    assert report.removed.runs > 40 and report.removed.jobs > 0
    assert not rows(database, "rollup_dirty")
    if refreshed:  # not a rollup row was touched
        assert [count(database, t) for t in ROLLUP_TABLES] == stored
    assert_same(all_figures(database, org_id), expected)
    # The run with an attempt after the cut-off keeps its earlier attempt; the runs of the
    # red period open across the cut-off are kept from its start.
    release = {(r["run_key"], r["attempt"]) for r in rows(database, "run_attempts")}
    assert {("1004", 1), ("1004", 2), ("1002", 1)} <= release
    assert ("1001", 1) not in release and ("1006", 1) not in release
    assert report.removed.kept_runs >= 2

    rebuild(database, None)
    assert_same(all_figures(database, org_id), expected)
    # A run posted later for a purged day is stored, but the day's figures are final.
    ingest(
        database,
        tenant,
        [
            runwatch_run(
                pipeline_name="build", run_id=99_999, started_at=iso(START + timedelta(days=2))
            )
        ],
    )
    refresh_all(database)
    assert_same(all_figures(database, org_id), expected)


def test_raw_reads_of_purged_days_find_nothing(database: Database, tenant: Tenant) -> None:
    """Run lists and filters the rollups do not split by read the raw rows: gone."""
    org_id = seeded(database, tenant)
    service = PresentedService(database)
    purged = Window(ms(START), ms(START + timedelta(days=12)))
    assert service.summary(org_id, replace(purged, filters=Filters(branch="main")))["runs"] > 0
    purge(database)
    for filters in (Filters(branch="main"), Filters(provider="github"), Filters(actor="octocat")):
        assert service.summary(org_id, replace(purged, filters=filters))["runs"] == 0
    assert service.runs(org_id, purged, 100, None)[0] == []
    assert service.summary(org_id, purged)["runs"] > 0  # from the rollups


def test_a_red_period_open_across_the_cut_off_is_recomputed_from_its_start(
    database: Database, tenant: Tenant
) -> None:
    org_id = seeded(database, tenant)
    purge(database)
    service = PresentedService(database)
    everything = Window(ms(START), ms(START + timedelta(days=60)))
    before = service.recovery(org_id, everything)["periods"]
    # A failure inside the period marks its pipeline's red periods from that day on.
    when = CUT + timedelta(hours=1)
    ingest(
        database,
        tenant,
        [
            runwatch_run(
                pipeline_name="release",
                run_id=1005,
                status="failure",
                branch="main",
                started_at=iso(when),
                completed_at=iso(when + timedelta(minutes=5)),
                jobs=[],
            )
        ],
    )
    refresh_all(database)
    (release,) = {r["pipeline_id"] for r in rows(database, "run_attempts", run_key="1005")}
    after = service.recovery(org_id, everything)["periods"]
    (was,) = [p for p in before if p["pipeline_id"] == release]
    (period,) = [p for p in after if p["pipeline_id"] == release]
    assert was["red_since"] == iso(START + timedelta(days=15, minutes=5)).replace("+00:00", "Z")
    assert (was["failing_attempts"], period["failing_attempts"]) == (2, 3)
    assert (was["red_since"], was["recovered_at"]) == (period["red_since"], period["recovered_at"])


def test_a_day_still_marked_moves_the_cut_off_back(database: Database, tenant: Tenant) -> None:
    """A partition the refresher set aside after a failure is not purged (nor anything of
    its organisation after it); the report says so."""
    org_id = seeded(database, tenant)
    refresh_all(database)
    (pipeline_id,) = {r["pipeline_id"] for r in rows(database, "run_attempts", run_key="1001")}
    stuck = ms(START) // DAY_MS + 12
    mark = rollup_marks.Marked(org_id, rollup_marks.FIGURES, pipeline_id, stuck)
    with database.write() as conn:
        rollup_marks.mark_dirty(conn, [(org_id, pipeline_id, stuck)], 0)
        rollup_failures.record_failure(conn, mark, "boom", time.time_ns() // 1_000_000)
    before = attempts_before(database, stuck * DAY_MS), attempts_before(database, ms(CUT))
    report = purge(database)
    assert report.purged_before_day == stuck and report.marked_day == stuck
    assert "still awaits the rollup refresher" in retention.describe(report)
    after = attempts_before(database, stuck * DAY_MS), attempts_before(database, ms(CUT))
    assert after[0] < before[0]
    assert after[1] - after[0] == before[1] - before[0]  # nothing of the days from it on


def test_a_dry_run_counts_what_a_purge_deletes(database: Database, tenant: Tenant) -> None:
    seeded(database, tenant)
    refresh_all(database)
    before = count(database, "run_attempts"), count(database, "jobs")
    dry = purge(database, dry_run=True)
    assert (count(database, "run_attempts"), count(database, "jobs")) == before
    with database.read() as conn:
        assert store.horizon(conn, store_org(database)) is None
    real = purge(database)
    assert (dry.removed, dry.detached_nodes) == (real.removed, real.detached_nodes)
    assert count(database, "run_attempts") == before[0] - real.removed.attempts
    assert count(database, "jobs") == before[1] - real.removed.jobs


def test_unstarted_runs_lone_job_nodes_and_deliveries_before_the_cut_off_go(
    database: Database, tenant: Tenant, client: TestClient
) -> None:
    org_id = store_org(database)
    queued = [runwatch_run(run_id=n, status="queued", completed_at=None, jobs=[]) for n in (7, 8)]
    ingest(database, tenant, queued)
    for chain in ("old-chain", "new-chain"):  # job nodes whose run never arrives
        event = trunk_event(f"{chain}-job", chain, parent="missing-root")
        response = client.post(
            "/v1/metrics/trackEvents", json=trunk_request(event), headers=tenant.trunk_headers
        )
        assert response.status_code == 200, response.text
    old = ms(CUT) - DAY_MS
    with database.write() as conn:
        conn.execute(sa.update(run_attempts).values(started_at_ms=None))  # never started
        conn.execute(
            sa.update(run_attempts).where(run_attempts.c.run_key == "7").values(received_at_ms=old)
        )
        conn.execute(
            sa.update(jobs).where(jobs.c.node_key == "old-chain-job").values(updated_at_ms=old)
        )
        conn.execute(
            sa.insert(webhook_deliveries),
            [
                {"org_id": org_id, "provider": "github", "delivery_id": d, "received_at_ms": t}
                for d, t in (("old", old), ("new", ms(CUT) + 1))
            ],
        )
    report = purge(database)
    assert (report.removed.runs, report.detached_nodes, report.deliveries) == (1, 1, 1)
    assert [r["run_key"] for r in rows(database, "run_attempts")] == ["8"]
    assert [r["node_key"] for r in rows(database, "jobs")] == ["new-chain-job"]
    assert [r["delivery_id"] for r in rows(database, "webhook_deliveries")] == ["new"]


def test_cipulse_purge(settings: Settings, database: Database, tenant: Tenant) -> None:
    seeded(database, tenant)
    runner = CliRunner()
    base = ["--database-url", settings.database_url, "purge"]
    dry = runner.invoke(cli, [*base, "--older-than", "30", "--org", "acme", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "acme: would purge" in dry.stderr and count(database, "run_attempts") > 0
    tenth = ms(START + timedelta(days=10))
    before = attempts_before(database, tenth), count(database, "run_attempts")
    days = (time.time_ns() // 1_000_000) // DAY_MS - tenth // DAY_MS  # days 0-9 go
    done = runner.invoke(cli, [*base, "--older-than", str(days)])
    assert done.exit_code == 0, done.output
    assert "acme: purged" in done.stderr
    after = attempts_before(database, tenth), count(database, "run_attempts")
    assert after[0] < before[0] and before[1] - before[0] == after[1] - after[0]
    unknown = runner.invoke(cli, [*base, "--older-than", "30", "--org", "nope"])
    assert unknown.exit_code == 1 and "no organisation named 'nope'" in unknown.stderr
    zero = runner.invoke(cli, [*base, "--older-than", "0"])
    assert zero.exit_code == 2 and "--older-than" in zero.stderr


def test_the_server_purges_by_itself(
    settings: Settings,
    database: Database,
    tenant: Tenant,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    seeded(database, tenant)
    refresh_all(database)
    expected = count(database, "run_attempts") - purge(database, dry_run=True).removed.attempts
    monkeypatch.setattr(retention, "FIRST_CHECK_SECONDS", 0.01)
    keep = (time.time_ns() // 1_000_000) // DAY_MS - CUT_DAY
    caplog.set_level("INFO", logger="cipulse.analytics.retention")
    with TestClient(create_app(settings.model_copy(update={"retention_days": keep}))):
        deadline = time.monotonic() + 60
        while "acme: purged" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
    assert "acme: purged" in caplog.text
    with database.read() as conn:
        assert store.horizon(conn, store_org(database)) == CUT_DAY
    assert count(database, "run_attempts") == expected


def test_one_purger_at_a_time(database: Database) -> None:
    with store.purger_lock(database) as first:
        assert first
        other = Database(database.settings)
        try:
            with store.purger_lock(other) as second:
                assert not second
        finally:
            other.dispose()
    with store.purger_lock(database) as again:
        assert again
