"""The database-computed figures equal a straightforward computation on the raw rows, on a
random dataset (retries, every status, unknown durations, several pipelines and branches)."""

from __future__ import annotations

import json
import math
import random
import zlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from cipulse.analytics import run_metrics
from cipulse.analytics.buckets import Interval, bucket_length, bucket_start, bucket_starts
from cipulse.analytics.paging import PageRequest, ordered
from cipulse.analytics.pipeline_search import PipelineSearch
from cipulse.analytics.rankings import MIN_SAMPLE
from cipulse.analytics.refresh import refresh_all
from cipulse.domain.tallies import AttemptFacts
from cipulse.domain.window import Filters, Window
from cipulse.ingestion.formats import parse_runwatch, parse_trunk
from cipulse.ingestion.service import IngestRequest, IngestService
from cipulse.storage import analytics_store as store
from cipulse.storage import list_store, repositories
from cipulse.storage.database import Database
from cipulse.storage.rollups import marks as rollup_marks
from cipulse.storage.schema import jobs
from cipulse.web.list_presenters import job_row_json
from cipulse.web.presenters import run_figures_json
from tests.builders import runwatch_run
from tests.conftest import Tenant, rows
from tests.presented import PresentedService

#: Slow: the consistency tests compute every figure twice over random histories.
#: make test-fast skips them; make test and CI run them.
pytestmark = pytest.mark.slow

STATUSES = ["success"] * 6 + ["failure", "failure", "timed_out", "cancelled", "skipped", "running"]
START = datetime(2024, 1, 1, tzinfo=UTC)


def random_jobs(rng: random.Random, started: datetime) -> list[dict[str, object]]:
    jobs = []
    for name in rng.sample(["lint", "build", "unit", "e2e", "deploy"], rng.randint(1, 5)):
        start = started + timedelta(seconds=rng.randrange(0, 300))
        end = None if rng.random() < 0.1 else start + timedelta(seconds=rng.randrange(1, 600))
        jobs.append(
            {
                "name": name,
                "status": rng.choice(STATUSES),
                "started_at": start.isoformat(),
                **({"completed_at": end.isoformat()} if end else {}),
            }
        )
    return jobs


def random_attempts(
    seed: int,
    runs: int,
    with_jobs: bool = False,
    variant: int = 0,
    start: datetime = START,
    days: int = 40,
    first_run: int = 0,
) -> list[dict[str, object]]:
    """Random run attempts starting in the ``days`` from ``start``, run ids from
    ``first_run``; ``variant`` > 0 re-draws status, start and duration of some of the same
    attempts (re-posts that move counts between statuses and days)."""
    rng = random.Random(seed)
    changes = random.Random(seed * 1000 + variant)
    payloads = []
    for run_id in range(runs):
        pipeline = rng.choice(["build", "deploy", "nightly"])
        branch = rng.choice(["main", "main", "feature/x", "fix/y"])
        started = start + timedelta(minutes=rng.randrange(0, 60 * 24 * days))
        for attempt in range(1, rng.choice([1, 1, 1, 2, 3]) + 1):
            status = rng.choice(STATUSES)
            duration = None if rng.random() < 0.1 else round(rng.lognormvariate(5, 1), 3)
            jobs = random_jobs(rng, started) if with_jobs else []
            attempt_start = started + timedelta(hours=attempt * 7)
            if variant and changes.random() < 0.3:
                status = changes.choice(["success", "failure", "timed_out", "cancelled"])
                attempt_start += timedelta(hours=changes.choice([-30, 0, 20]))
                duration = round(changes.lognormvariate(5, 1), 3)
                if with_jobs:
                    jobs = random_jobs(changes, attempt_start)
            payloads.append(
                runwatch_run(
                    run_id=first_run + run_id,
                    run_attempt=attempt,
                    pipeline_name=pipeline,
                    branch=branch,
                    status=status,
                    started_at=attempt_start.isoformat(),
                    completed_at=None
                    if status == "running" or duration is None
                    else (attempt_start + timedelta(seconds=duration)).isoformat(),
                    duration_seconds=duration,
                    compute_seconds=None if duration is None else duration * 2,
                    jobs=jobs,
                )
            )
    return payloads


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


#: Whole blocks and days (2024-01-01 is a Monday), days starting mid-week, partial days at
#: both ends, branch scopes (stored rows of their own), and filters the rollups do not split
#: by (computed from the raw rows).
WINDOWS = [
    Window(ms(START), ms(START + timedelta(days=30))),
    # Holds a stored 28-day block (2024-01-22 .. 2024-02-18) and 7-day blocks.
    Window(ms(START - timedelta(days=3)), ms(START + timedelta(days=60))),
    Window(ms(START + timedelta(days=3)), ms(START + timedelta(days=13))),
    Window(ms(START + timedelta(days=5, hours=3)), ms(START + timedelta(days=25, hours=-7))),
    Window(ms(START + timedelta(hours=5)), ms(START + timedelta(hours=20))),
    # Less than a day, across midnight: its day series has two buckets.
    Window(ms(START + timedelta(days=6, hours=21)), ms(START + timedelta(days=7, hours=20))),
    Window(ms(START + timedelta(days=5)), ms(START + timedelta(days=25)), Filters(branch="main")),
    Window(ms(START), ms(START + timedelta(days=30)), Filters(statuses=("failure", "timed_out"))),
    Window(ms(START), ms(START + timedelta(days=9)), Filters(branch_scope="default")),
    Window(
        ms(START - timedelta(days=3)),
        ms(START + timedelta(days=60, hours=4)),
        Filters(branch_scope="default"),
    ),
    Window(
        ms(START - timedelta(days=3)), ms(START + timedelta(days=60)), Filters(branch_scope="other")
    ),
    Window(
        ms(START + timedelta(days=20, hours=5)),
        ms(START + timedelta(days=28)),
        Filters(branch_scope="other"),
    ),
]

PERCENTILES = {
    "p50_duration_seconds",
    "p95_duration_seconds",
    "p50_queue_seconds",
    "p95_queue_seconds",
}
#: The run metrics a series point is checked for (``PresentedService.run_series``).
SERIES_CHECKED = (
    "runs",
    "success_rate",
    "flaky_rate",
    "p50_duration_seconds",
    "p95_duration_seconds",
    "mean_duration_seconds",
    "compute_seconds",
)


def assert_same(got: dict[str, object], expected: dict[str, object], where: object) -> None:
    """Equal figures; percentiles within the histograms' 1% (docs/metrics.md)."""
    for name, value in expected.items():
        if value is None or isinstance(value, dict | str):
            assert got[name] == value, (name, where)
        else:
            tolerance = 0.01 if name in PERCENTILES else 1e-9
            assert got[name] == pytest.approx(value, rel=tolerance), (name, where)


def ingest(database: Database, tenant: Tenant, payloads: list[dict[str, object]]) -> None:
    requests = [
        IngestRequest(parse_runwatch(json.dumps(payload).encode()), api_key=tenant.key)
        for payload in payloads
    ]
    IngestService(database).ingest_batch(requests)


def with_queue_times(database: Database) -> None:
    """Give most jobs a queue time, as the GitHub and GitLab webhooks store it (the column
    ``jobs.queue_seconds`` and the ``queue_seconds`` metric; the RunWatch examples here carry
    none): a value fixed by the job's id, so a job keeps its value however often this runs
    (stored rollups stay true), and none (unknown) for one in five."""
    with database.write() as conn:
        stored = conn.execute(
            sa.select(jobs.c.org_id, jobs.c.attempt_id, jobs.c.node_key, jobs.c.id)
        ).all()
        updates = []
        for org_id, attempt_id, node_key, job_id in stored:
            drawn = zlib.crc32(str(job_id).encode())
            queue = None if drawn % 5 == 0 else drawn % 1201 / 4
            metrics = None if queue is None else {"queue_seconds": queue}
            updates.append({"o": org_id, "a": attempt_id, "n": node_key, "m": metrics, "q": queue})
        conn.execute(
            sa.update(jobs)
            .where(
                jobs.c.org_id == sa.bindparam("o"),
                jobs.c.attempt_id == sa.bindparam("a"),
                jobs.c.node_key == sa.bindparam("n"),
            )
            .values(metrics=sa.bindparam("m"), queue_seconds=sa.bindparam("q")),
            updates,
        )


def reference(database: Database, org_id: str, window: Window) -> dict[str, object]:
    with database.read() as conn:
        in_window = store.attempts_in_window(conn, org_id, window)
        history = store.attempts_of_runs(conn, org_id, run_metrics.runs_needing_history(in_window))
    return run_figures_json(run_metrics.summary(window, in_window, history))


def recovery_reference(database: Database, org_id: str, window: Window) -> dict[str, object]:
    with database.read() as conn:
        outcomes = store.outcomes_before(conn, org_id, window.filters, window.until_ms)
    found = run_metrics.recovery(window, outcomes)
    return {
        "mttr_seconds": found.mttr_seconds,
        "periods": sorted(
            (p.pipeline_id, p.branch, p.started_at_ms, p.ended_at_ms, p.failing_attempts)
            for p in found.ended
        ),
        "red_now": sorted((p.pipeline_id, p.branch, p.started_at_ms) for p in found.red_now),
    }


def check_recovery(
    service: PresentedService, database: Database, org_id: str, window: Window
) -> None:
    got = service.recovery(org_id, window)
    expected = recovery_reference(database, org_id, window)
    assert got["mttr_seconds"] == pytest.approx(expected["mttr_seconds"]), window
    assert (
        sorted(
            (
                p["pipeline_id"],
                p["branch"],
                ms_of(p["red_since"]),
                ms_of(p["recovered_at"]),
                p["failing_attempts"],
            )
            for p in got["periods"]
        )
        == expected["periods"]
    ), window
    assert (
        sorted((p["pipeline_id"], p["branch"], ms_of(p["red_since"])) for p in got["red_at_end"])
        == expected["red_now"]
    ), window


def ms_of(text: str | None) -> int | None:
    if text is None:
        return None
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def check_runs(
    database: Database,
    org_id: str,
    windows: list[Window] = WINDOWS,
    intervals: tuple[Interval, ...] = (Interval.DAY, Interval.WEEK),
    *,
    pages: bool = True,
) -> None:
    """Every figure of every window equals the reference; with ``pages``, the dashboard's
    pages of pipelines are also checked to be slices of the whole list, in one of the
    ``PAGE_SORTS`` per window, in turn (the costliest part: the callers check it in the
    phases where the stored and raw parts differ most; every order is checked on a third of
    the windows)."""
    service = PresentedService(database)
    references: dict[Window, dict[str, object]] = {}  # the data does not change meanwhile

    def expected_of(window: Window) -> dict[str, object]:
        if window not in references:
            references[window] = reference(database, org_id, window)
        return references[window]

    for position, window in enumerate(windows):
        check_recovery(service, database, org_id, window)
        got = service.summary(org_id, window)
        assert_same(got, expected_of(window), window)
        for interval in intervals:
            # The series of every metric, from one computation (``timeseries`` picks one).
            series = service.run_series(org_id, window, interval)
            starts = bucket_starts(window.since_ms, window.until_ms, interval)
            assert len(series) == len(starts)
            for point, start in zip(series, starts, strict=True):
                bucket = replace(
                    window,
                    since_ms=max(start, window.since_ms),
                    until_ms=min(start + bucket_length(interval), window.until_ms),
                )
                expected = expected_of(bucket)  # once for every metric, and windows' days
                got = {metric: point[metric] for metric in SERIES_CHECKED}
                assert_same(got, {m: expected[m] for m in SERIES_CHECKED}, bucket)
        pipelines, _ = service.pipelines(org_id, window)
        sorts = (PAGE_SORTS[position % len(PAGE_SORTS)],) if pages else ()
        check_highlights(service, org_id, window, pipelines, sorts=sorts)
        for pipeline in pipelines:
            narrowed = replace(window, filters=replace(window.filters, pipeline_id=pipeline["id"]))
            assert_same(pipeline, expected_of(narrowed), pipeline["name"])


#: One random history per database, a different one on each: both SQL dialects meet every
#: window and filter, and two histories meet the engine (each run costs ~15 s of CPU).
RUN_SEEDS = {"sqlite": 7, "postgresql": 8}


def test_run_figures_equal_the_reference_stored_or_not(database: Database, tenant: Tenant) -> None:
    """Before the rollups are refreshed (every day computed from the raw rows), after, and
    after re-posts that move attempts between statuses and days (some days stale)."""
    seed = RUN_SEEDS[database.dialect]
    ingest(database, tenant, random_attempts(seed, 300))
    org_id = store_org(database)
    check_runs(database, org_id, pages=False)
    assert refresh_all(database) > 0
    check_runs(database, org_id)
    with database.write() as conn:  # the default branch: main until now, fix/y from here
        for repository in repositories.list_repositories(conn, org_id):
            repositories.set_default_branch(conn, org_id, repository.id, "fix/y", 0)
    ingest(database, tenant, random_attempts(seed, 300, variant=1))
    check_runs(database, org_id)
    refresh_all(database)
    check_runs(database, org_id, pages=False)


def store_org(database: Database) -> str:
    from cipulse.accounts.service import AccountService

    return AccountService(database).organisation("acme").id


def job_reference(
    database: Database, org_id: str, window: Window
) -> dict[tuple[str, str], dict[str, object]]:
    """Job metrics job by job, exclusive time computed from the timestamps."""
    from collections import defaultdict

    from cipulse.analytics import job_metrics

    with database.read() as conn:
        in_window = store.attempts_in_window(conn, org_id, window)
        history = store.attempts_of_runs(conn, org_id, run_metrics.runs_needing_history(in_window))
        flaky = run_metrics.flaky_runs(in_window, history)
        wanted = {a.id for a in in_window} | {a.id for run in flaky.values() for a in run.failing}
        rows = list_store.jobs_of(conn, org_id, sorted(wanted))
        passed = failures_passed_on_retry(conn, org_id, in_window)
    by_attempt: dict[str, list[dict[str, object]]] = defaultdict(list)
    for row in rows:
        by_attempt[row["attempt_id"]].append(row)
    exclusive = {}
    window_jobs = []
    for attempt in in_window:
        window_jobs += by_attempt.get(attempt.id, [])
        for key, seconds in job_metrics.exclusive_seconds(by_attempt.get(attempt.id, [])).items():
            exclusive[(attempt.id, key)] = seconds
    summaries = [
        job_row_json(row)
        for row in job_metrics.job_summaries(
            window,
            {a.id: a.pipeline_id for a in in_window},
            window_jobs,
            exclusive,
            job_metrics.flaky_jobs(flaky, by_attempt),
        )
    ]
    queues: dict[tuple[str, str], list[float]] = defaultdict(list)
    running: dict[tuple[str, str], float] = defaultdict(float)
    for attempt in in_window:
        held = {job["node_key"] for job in by_attempt.get(attempt.id, [])}
        for job in by_attempt.get(attempt.id, []):
            queue = (job["metrics"] or {}).get("queue_seconds")
            if queue is not None:  # unknown: left out, not 0
                queues[(attempt.pipeline_id, job["definition_key"])].append(queue)
            if job["parent_node_key"] is None or job["parent_node_key"] not in held:
                running[(attempt.pipeline_id, job["definition_key"])] += float(
                    job["duration_seconds"] or 0.0
                )
    for row in summaries:
        key = (row["pipeline_id"], row["definition_key"])
        row["failures_passed_on_retry"] = passed.get(key, 0)
        waits = sorted(queues[key])  # by hand: nearest rank over the executions that carry one
        row["mean_queue_seconds"] = sum(waits) / len(waits) if waits else None
        row["p50_queue_seconds"] = waits[math.ceil(0.5 * len(waits)) - 1] if waits else None
        row["p95_queue_seconds"] = waits[math.ceil(0.95 * len(waits)) - 1] if waits else None
        row["total_queue_seconds"] = sum(waits) if waits else None
        row[QUEUE_COUNT] = len(waits)  # the waits' (not a field of the answer)
        row[RUNNING] = running.pop(key, 0.0)  # its executions' running time (nor this)
    # Jobs directly under their run that no row lists (none at this level) still ran.
    if summaries:
        summaries[0][RUNNING] = float(summaries[0][RUNNING]) + sum(running.values())
    return {(row["pipeline_id"], row["definition_key"]): row for row in summaries}


def failures_passed_on_retry(
    conn: Any, org_id: str, in_window: list[AttemptFacts]
) -> dict[tuple[str, str], int]:
    """Per job, its failing executions in the window's attempts after which it ended
    success in a later attempt of the same run (whenever that attempt started)."""
    first: dict[tuple[str, str], int] = {}
    for attempt in in_window:
        first[attempt.run] = min(first.get(attempt.run, attempt.attempt), attempt.attempt)
    runs = store.attempts_of_runs(conn, org_id, set(first))
    retries = {a.id: a for a in runs if a.attempt > first[a.run]}
    passed_at: dict[tuple[tuple[str, str], str], int] = {}
    for job in list_store.jobs_of(conn, org_id, sorted(retries)):
        if job["status"] == "success":
            retry = retries[job["attempt_id"]]
            key = (retry.run, job["definition_key"])
            passed_at[key] = max(passed_at.get(key, 0), retry.attempt)
    attempts = {a.id: a for a in in_window}
    found: dict[tuple[str, str], int] = {}
    for job in list_store.jobs_of(conn, org_id, sorted(attempts)):
        attempt = attempts[job["attempt_id"]]
        later = passed_at.get((attempt.run, job["definition_key"]), 0)
        if job["status"] in ("failure", "timed_out") and later > attempt.attempt:
            key = (attempt.pipeline_id, job["definition_key"])
            found[key] = found.get(key, 0) + 1
    return found


#: The orders whose pages are checked: by a stored count, and by durations read for the rows
#: shown (slowest first: the candidates of a bound) or for every row.
PAGE_SORTS = ("-runs", "-p95_duration_seconds", "p95_duration_seconds", "-p50_duration_seconds")


def check_highlights(
    service: PresentedService,
    org_id: str,
    window: Window,
    pipelines: list[dict[str, object]],
    *,
    sorts: tuple[str, ...] = PAGE_SORTS,
) -> None:
    """The overview's pipeline lists (histograms read for the slowest only) are the tops of
    the whole list; and the dashboard's pages in the ``sorts`` are slices of the whole
    sorted list."""
    got = service.pipeline_highlights(org_id, window, 3)
    ran = [row for row in pipelines if row["runs"]]
    timed = window.filters.statuses or ("success",)  # the attempts whose durations count
    slowest = ordered(
        [
            r
            for r in ran
            if r["p95_duration_seconds"] is not None
            and sum(r["by_status"][s] for s in timed) >= MIN_SAMPLE
        ],
        "-p95_duration_seconds",
    )

    def decided(row: dict[str, Any]) -> int:
        return sum(row["by_status"][s] for s in ("success", "failure", "timed_out"))

    failing = sorted(
        (r for r in ran if decided(r) >= MIN_SAMPLE and r["success_rate"] < 1),
        key=lambda r: (
            -wilson(decided(r) - r["by_status"]["success"], decided(r)),
            r["by_status"]["success"] - decided(r),
            r["id"],
        ),
    )
    # flaky_rate = flaky_runs / the runs it is over: that count is the sample.
    flaky_sample = {
        r["id"]: round(r["flaky_runs"] / r["flaky_rate"]) for r in ran if r["flaky_runs"]
    }
    flaky = sorted(
        (r for r in ran if r["flaky_runs"] and flaky_sample[r["id"]] >= MIN_SAMPLE),
        key=lambda r: (-wilson(r["flaky_runs"], flaky_sample[r["id"]]), -r["flaky_runs"], r["id"]),
    )
    for name, expected in (("slowest", slowest), ("failing", failing), ("flaky", flaky)):
        assert [r["id"] for r in got[name]] == [r["id"] for r in expected[:3]], (name, window)
    for row in got["failing"]:
        assert (row["failed_runs"], row["decided_runs"]) == (
            decided(row) - row["by_status"]["success"],
            decided(row),
        )
    for row in got["flaky"]:
        assert row["flaky_of_runs"] == flaky_sample[row["id"]]
    for row, expected_row in zip(got["slowest"], slowest, strict=False):
        assert row["p95_duration_seconds"] == expected_row["p95_duration_seconds"]
    # The dashboard's pages of pipelines (histograms read for the rows shown, or the
    # candidates of a slowest-first order) are slices of the whole sorted list.
    for sort in sorts:
        whole, _ = service.pipelines(org_id, window, PageRequest(limit=1000, sort=sort))
        for start, end in ((0, 2), (1, 3)):
            shown, total = service.pipelines_shown(
                org_id, window, sort, PipelineSearch(), start, end
            )
            assert total == len(whole)
            for got_row, want in zip(shown, whole[start:end], strict=True):
                assert set(got_row) == set(want)
                for name, value in got_row.items():
                    # Sums in another order: floats may differ in their last digit.
                    expected = pytest.approx(want[name]) if isinstance(value, float) else want[name]
                    assert value == expected, (name, sort, window)


def wilson(hits: int, total: int) -> float:
    """The Wilson score interval's lower end at 95%, from its textbook formula."""
    z = 1.959963984540054
    p = hits / total
    low = p + z * z / (2 * total) - z * math.sqrt(p * (1 - p) / total + z * z / (4 * total**2))
    return max(low / (1 + z * z / total), 0.0)


def check_job_highlights(
    service: PresentedService, org_id: str, window: Window, expected: dict[Any, dict[str, Any]]
) -> None:
    """Most failing jobs: at least MIN_SAMPLE executions, most failures that stayed failed
    (failures less the flaky runs in which the job passed on a retry) first."""
    got = service.job_highlights(org_id, window, 4)
    rows = []
    for row in expected.values():
        executions = sum(row["by_status"][s] for s in ("success", "failure", "timed_out"))
        stayed = row["failure_count"] - row["failures_passed_on_retry"]
        if executions >= MIN_SAMPLE and stayed:
            bound = -wilson(row["failure_count"], executions)
            order = (row["job"], row["pipeline_id"], row["definition_key"])
            rows.append((-stayed, bound, *order, row))
    rows.sort(key=lambda item: item[:5])  # ties: by name, then pipeline and job key
    assert [(r["pipeline_id"], r["definition_key"]) for r in got["failing"]] == [
        (item[5]["pipeline_id"], item[5]["definition_key"]) for item in rows[:4]
    ], window
    for row in got["failing"]:
        assert (
            row["failures_stayed_failed"] + row["failures_passed_on_retry"] == row["failure_count"]
        )
    assert all(row["runs"] >= MIN_SAMPLE for row in got["flaky"])


def check_jobs(database: Database, org_id: str, windows: list[Window] = WINDOWS) -> None:
    service = PresentedService(database)
    for position, window in enumerate(windows):
        expected = job_reference(database, org_id, window)
        check_job_highlights(service, org_id, window, expected)
        items, cursor = service.jobs(org_id, window, PageRequest(limit=1000))
        assert cursor is None
        got = {(row["pipeline_id"], row["definition_key"]): row for row in items}
        assert set(got) == set(expected), window
        for key, row in expected.items():
            shown = {k: v for k, v in row.items() if k not in ("job", QUEUE_COUNT, RUNNING)}
            assert_same(got[key], shown, (key, window))
        check_slowest_first(service, org_id, window, JOB_PAGE_SORTS[position % 2])
        check_waits(service, org_id, window, expected)


#: The number of an expected job row's queue times (the waits count them).
QUEUE_COUNT = "_queue_count"
#: The running time of an expected job row's executions directly under their run.
RUNNING = "_running_seconds"


def check_waits(
    service: PresentedService, org_id: str, window: Window, expected: dict[Any, dict[str, Any]]
) -> None:
    """The waits (read alone: the runner rollup's queue histograms and raw queue times) add
    up the queue times of the jobs by hand: how many, and their total; the running time
    of the executions directly under their run, and the share waiting, too."""
    figures = service.service.waits(org_id, window).figures
    known = [row["total_queue_seconds"] for row in expected.values() if row[QUEUE_COUNT]]
    assert figures.waited_jobs == sum(row[QUEUE_COUNT] for row in expected.values()), window
    running = sum(float(row[RUNNING]) for row in expected.values())
    assert figures.running_seconds == pytest.approx(running), window
    if known:
        waiting = sum(known)
        assert figures.total_queue_seconds == pytest.approx(waiting), window
        share = waiting / (waiting + running) if waiting + running else None
        assert figures.waiting_share == pytest.approx(share), window
    else:
        assert figures.total_queue_seconds is None, window
        assert figures.waiting_share is None, window


def job_keys(rows: list[dict[str, object]]) -> list[tuple[object, object]]:
    return [(row["pipeline_id"], row["definition_key"]) for row in rows]


#: The slowest-first orders of the jobs' pages, checked on every other window each.
JOB_PAGE_SORTS = ("-p95_duration_seconds", "-p50_duration_seconds")


def check_slowest_first(service: PresentedService, org_id: str, window: Window, sort: str) -> None:
    """Pages sorted slowest first (which read only the histograms of jobs that may be on
    them) are the slices of the whole list sorted so (which reads every histogram); so is
    the overview's list of the slowest jobs (of those with a duration and a sample)."""
    whole, _ = service.jobs(org_id, window, PageRequest(limit=1000, sort=sort))
    paged: list[dict[str, object]] = []
    cursor = None
    for _ in range(3):
        page, cursor = service.jobs(org_id, window, PageRequest(3, cursor, sort))
        paged += page
        if cursor is None:
            break
    assert job_keys(paged) == job_keys(whole)[: len(paged)], (sort, window)
    assert paged == whole[: len(paged)]
    if sort == "-p95_duration_seconds":
        slowest = service.job_highlights(org_id, window, 5)["slowest"]
        timed = window.filters.statuses or ("success",)
        assert (
            slowest
            == [
                row
                for row in whole
                if row["p95_duration_seconds"] is not None
                and sum(row["by_status"][s] for s in timed) >= MIN_SAMPLE
            ][:5]
        )


@pytest.mark.parametrize("seed", [3])
def test_job_figures_equal_the_reference_stored_or_not(
    database: Database, tenant: Tenant, seed: int
) -> None:
    ingest(database, tenant, random_attempts(seed, 150, with_jobs=True))
    with_queue_times(database)
    org_id = store_org(database)
    check_jobs(database, org_id)
    refresh_all(database)
    check_jobs(database, org_id)
    ingest(database, tenant, random_attempts(seed, 150, with_jobs=True, variant=1))
    with_queue_times(database)
    check_jobs(database, org_id)
    refresh_all(database)
    check_jobs(database, org_id)


def test_new_runs_added_to_stored_figures_equal_the_reference(
    database: Database, tenant: Tenant
) -> None:
    """Runs posted whole for the first time are not recomputed but added: reads add them to
    the stored rows until the refresher has (rollup_marks.NEW_RUNS). Into days already
    stored, beside re-posts that make days be recomputed, then refreshed."""
    ingest(database, tenant, random_attempts(21, 150, with_jobs=True))
    with_queue_times(database)
    org_id = store_org(database)
    refresh_all(database)
    added = random_attempts(22, 120, with_jobs=True, first_run=10_000)
    ingest(database, tenant, added)
    with_queue_times(database)
    assert [r for r in rows(database, "rollup_dirty") if r["kind"] == rollup_marks.NEW_RUNS]
    check_runs(database, org_id)
    check_jobs(database, org_id)
    ingest(database, tenant, random_attempts(22, 120, with_jobs=True, first_run=10_000, variant=1))
    with_queue_times(database)
    check_runs(database, org_id, pages=False)
    refresh_all(database)
    assert not rows(database, "rollup_dirty")
    check_runs(database, org_id, pages=False)
    check_jobs(database, org_id)


def random_metric_events(seed: int, chains: int) -> list[dict[str, object]]:
    """Trunk runs with metrics and tags on the run and on some of its nodes."""
    from tests.builders import trunk_event

    rng = random.Random(seed)
    events = []
    for chain in range(chains):
        started = ms(START) + rng.randrange(0, 20 * 86_400_000)
        runner = rng.choice([{"runner": "linux"}, {"runner": "mac"}, {"os": "x"}, None])
        events.append(
            trunk_event(
                f"r{chain}",
                f"c{chain}",
                kind="pipeline",
                key=rng.choice(["deploy", "release"]),
                created_at=started,
                finished_at=started + 60_000,
                metrics={"coverage": round(rng.uniform(50, 100), 2), "tests": rng.randrange(1, 9)},
                tags=runner,
            )
        )
        for node in range(rng.randrange(0, 3)):
            events.append(
                trunk_event(
                    f"n{chain}-{node}",
                    f"c{chain}",
                    parent=f"r{chain}",
                    created_at=started + 1000 * node,
                    finished_at=started + 1000 * node + 500,
                    metrics={"coverage": round(rng.uniform(0, 100), 2)},
                    tags=rng.choice([{"runner": "linux"}, None]),
                )
            )
    return events


def metric_reference(
    database: Database, org_id: str, window: Window, interval: Interval, group_tag: str | None
) -> dict[tuple[str | None, int], dict[str, object]]:
    with database.read() as conn:
        events = store.metric_events(conn, org_id, window)
    values: dict[tuple[str | None, int], list[float]] = {}
    for started, _, metrics, tags in events:
        if "coverage" in metrics:
            group = str(tags[group_tag]) if group_tag and tags and group_tag in tags else None
            values.setdefault((group, bucket_start(started, interval)), []).append(
                float(metrics["coverage"])
            )
    found = {}
    for key, numbers in values.items():
        ordered = sorted(numbers)
        found[key] = {
            "count": len(ordered),
            "sum": sum(ordered),
            "p50": run_metrics.nearest_rank(ordered, 50),
            "p95": run_metrics.nearest_rank(ordered, 95),
        }
    return found


def check_metrics(database: Database, org_id: str) -> None:
    service = PresentedService(database)
    for window in WINDOWS[:4]:
        for interval in (Interval.DAY, Interval.WEEK):
            for group_tag in (None, "runner"):
                got = service.custom_metric(
                    org_id, window, "coverage", f"tag:{group_tag}" if group_tag else None, interval
                )
                expected = metric_reference(database, org_id, window, interval, group_tag)
                seen = {}
                for group in got["groups"]:
                    for point in group["points"]:
                        if point["count"]:
                            seen[(group["group"], ms_of(point["start"]))] = point
                assert set(seen) == set(expected), (window, interval, group_tag)
                for key, value in expected.items():
                    assert seen[key]["count"] == value["count"]
                    assert seen[key]["sum"] == pytest.approx(value["sum"])
                    for name in ("p50", "p95"):
                        assert seen[key][name] == pytest.approx(value[name], rel=0.01)
        assert service.custom_metric_keys(org_id, window)["metrics"] in ([], ["coverage", "tests"])


def test_custom_metrics_equal_the_reference_stored_or_not(
    database: Database, tenant: Tenant
) -> None:
    from tests.builders import trunk_request

    events = random_metric_events(5, 120)
    for start in range(0, len(events), 50):
        request = IngestRequest(
            parse_trunk(json.dumps(trunk_request(*events[start : start + 50])).encode()),
            api_key=tenant.key,
        )
        (outcome,) = IngestService(database).ingest_batch([request])
        assert not isinstance(outcome, Exception), outcome
    org_id = store_org(database)
    assert metric_reference(database, org_id, WINDOWS[0], Interval.DAY, "runner")
    check_metrics(database, org_id)
    refresh_all(database)
    check_metrics(database, org_id)


def test_a_partition_ingest_keeps_marking_waits_until_it_settles(
    database: Database, tenant: Tenant
) -> None:
    """The server's refresher leaves a partition marked in the last ``settle`` period
    (unless first marked more than MAX_DEFERRAL_MS ago); the bulk refresh takes it."""
    from cipulse.analytics.refresh import refresh_round

    ingest(database, tenant, random_attempts(4, 5))
    refresh_all(database)
    ingest(database, tenant, random_attempts(4, 5, variant=1))  # changed: recomputed
    assert refresh_round(database, settle_ms=60_000).taken == 0  # just marked: not settled
    assert rows(database, "rollup_dirty")
    with database.write() as conn:  # as if ingest marked it long ago and kept at it
        conn.exec_driver_sql(
            "UPDATE rollup_dirty SET marked_at_ms = marked_at_ms - "
            f"{rollup_marks.MAX_DEFERRAL_MS + 120_000}"
        )
        conn.exec_driver_sql(
            "INSERT INTO rollup_dirty (org_id, id, pipeline_id, day, marked_at_ms) "
            "SELECT org_id, '5f0c1c8e-0000-4000-8000-000000000001', pipeline_id, day, "
            f"{int(datetime.now(UTC).timestamp() * 1000)} FROM rollup_dirty LIMIT 1"
        )
    assert refresh_round(database, settle_ms=60_000).taken > 0  # overdue: taken, fresh mark too
    assert not rows(database, "rollup_dirty")
