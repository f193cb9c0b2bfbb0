"""``cipulse demo seed``: a realistic CI history for a newcomer.

``cipulse demo seed``: a realistic CI history for a newcomer to look at, stored through the
bulk ingest path (``IngestService.ingest_batch`` with rows prepared in worker processes), the
way ``cipulse ingest`` stores files."""

from __future__ import annotations

import shlex
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import click

from cipulse.accounts.rates import RateService
from cipulse.accounts.service import AccountService, principal_for
from cipulse.accounts.teams import TeamService
from cipulse.cli.context import Context, refresh_rollups, reports_errors, say, workers_option
from cipulse.cli.invocation import cipulse_command
from cipulse.demo import teams as demo_teams
from cipulse.demo.generator import DemoPlan, layout_of
from cipulse.demo.layout import Layout
from cipulse.demo.preparation import PreparedChunk, collection_paused, prepared_chunks
from cipulse.demo.rates import DEMO_RATES
from cipulse.demo.test_reports import quarantine_some, store_reports
from cipulse.domain.model import Organisation
from cipulse.errors import CipulseError, NotFound
from cipulse.ingestion.service import IngestRequest, IngestService
from cipulse.storage.accounts import Principal
from cipulse.storage.clock import now_ms
from cipulse.storage.database import Database


@click.group()
def demo() -> None:
    """Demo data: a generated CI history to explore cipulse with."""


@demo.command()
@click.option(
    "--org",
    "org_name",
    default="demo",
    show_default=True,
    help="Organisation to seed; created if it does not exist.",
)
@click.option(
    "--runs",
    type=click.IntRange(min=1),
    default=20_000,
    show_default=True,
    help="Run attempts to generate (about ten jobs each).",
)
@click.option(
    "--days",
    type=click.IntRange(min=1, max=3650),
    default=90,
    show_default=True,
    help="Days of history, ending now.",
)
@click.option(
    "--seed",
    "seed_value",
    type=int,
    default=42,
    show_default=True,
    help="Random seed: the same seed gives the same history.",
)
@click.option(
    "--now",
    type=click.DateTime(),
    help="End of the history, UTC, for a reproducible database [default: the current time].",
)
@workers_option("generate runs")
@click.pass_obj
@reports_errors
def seed(
    obj: Context,
    org_name: str,
    runs: int,
    days: int,
    seed_value: int,
    now: datetime | None,
    workers: int,
) -> None:
    """Generate a realistic CI history and store it.

    About one pipeline per thousand runs (3 to 200), four to a repository, on GitHub, GitLab
    and CircleCI, with a few Jenkins pipelines in the Trunk format (stages and steps, custom
    metrics and tags). Each pipeline has a fixed set of 5 to 20 jobs with log-normal
    durations; runs follow the working week; the default branch `main` has red streaks;
    feature branches have superseded (cancelled) runs; failed runs are retried, some of
    them flaky. Every run names its commit, author and event (push, pull request, schedule,
    tag); pull requests get several pushes over some days. Seeding again with the same
    seed updates the same runs (ids derive from natural keys) instead of adding more."""
    end = (now.replace(tzinfo=UTC) if now else datetime.now(UTC)).replace(microsecond=0)
    plan = DemoPlan(runs=runs, days=days, now=end, seed=seed_value)
    principal = principal_for(_organisation(AccountService(obj.database), org_name))
    RateService(obj.database).set_rates(org_name, list(DEMO_RATES))
    layout = layout_of(plan)
    say(
        f"seeding {runs:,} runs over {days} days into {org_name!r}: "
        f"{len(layout.repositories)} repositories, {len(layout.pipelines)} pipelines "
        f"(seed {seed_value})"
    )
    database = Database(obj.settings(), background_checkpoints=True)
    tally = Tally(total=runs)
    try:
        with database.checkpointing():
            service = IngestService(database)
            for chunk in prepared_chunks(plan, principal.org_id, workers):
                with collection_paused():
                    tally.add(chunk, _store(service, principal, chunk))
                    tally.add_tests(*_store_tests(database, principal.org_id, chunk))
    finally:
        database.dispose()
    say(tally.summary())
    _teams(obj, org_name)
    _quarantine(obj, principal.org_id, layout)
    refresh_rollups(obj)
    if tally.refused:
        say(f"{tally.refused} runs refused: {tally.refusal}")
        raise SystemExit(1)
    settings = obj.settings()
    read_key = cipulse_command(settings, f"keys create --org {shlex.quote(org_name)} --scope read")
    say(f"explore it: {read_key}; {cipulse_command(settings, 'serve')}")


def _store_tests(database: Database, org_id: str, chunk: PreparedChunk) -> tuple[int, int]:
    """The chunk's JUnit reports, after its runs (so each joins its attempt)."""
    with database.write() as conn:
        return store_reports(conn, org_id, chunk.test_reports, now_ms())


def _quarantine(obj: Context, org_id: str, layout: Layout) -> None:
    with obj.database.write() as conn:
        quarantined = quarantine_some(conn, org_id, layout)
    say(f"quarantined {quarantined} flaky tests (cipulse tests quarantine list)")


def _teams(obj: Context, org_name: str) -> None:
    """The demo's teams (``demo/teams.py``): its default CODEOWNERS and rules."""
    teams = TeamService(obj.database)
    teams.import_codeowners(org_name, demo_teams.DEFAULT_CODEOWNERS, None)
    for kind, pattern, team in demo_teams.rules():
        teams.add_rule(org_name, kind.value, pattern, team)
    say(f"teams: {', '.join(t.name for t in teams.teams(org_name))} (cipulse teams list)")


def _organisation(accounts: AccountService, name: str) -> Organisation:
    try:
        return accounts.organisation(name)
    except NotFound:
        organisation = accounts.create_organisation(name)
        say(f"created organisation {organisation.name!r}")
        return organisation


def _store(
    service: IngestService, principal: Principal, chunk: PreparedChunk
) -> list[tuple[int, int, str]]:
    """Stores the chunk; returns (runs, jobs, reason) of each submission refused."""
    results = service.ingest_batch(
        [IngestRequest(principal=principal, prepared=prepared) for prepared in chunk.submissions]
    )
    return [
        (
            len(prepared.attempts),
            prepared.job_count,
            result.message,
        )
        for prepared, result in zip(chunk.submissions, results, strict=True)
        if isinstance(result, CipulseError)
    ]


@dataclass(slots=True)
class Tally:
    """Runs and jobs stored so far; reports progress every tenth of the total."""

    total: int
    runs: int = 0
    jobs: int = 0
    refused: int = 0
    refusal: str = ""
    test_reports: int = 0
    test_results: int = 0
    reported_tenths: int = 0
    started: float = 0.0

    def __post_init__(self) -> None:
        self.started = time.perf_counter()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    @property
    def rate(self) -> float:
        return self.runs / self.elapsed if self.elapsed > 0 else 0.0

    def add(self, chunk: PreparedChunk, refused: list[tuple[int, int, str]]) -> None:
        self.runs += chunk.runs - sum(runs for runs, _, _ in refused)
        self.jobs += chunk.jobs - sum(jobs for _, jobs, _ in refused)
        self.refused += sum(runs for runs, _, _ in refused)
        if refused and not self.refusal:
            self.refusal = refused[0][2]
        tenths = (self.runs + self.refused) * 10 // self.total
        if tenths > self.reported_tenths and tenths < 10:
            self.reported_tenths = tenths
            say(
                f"  {tenths * 10:3d}%  {self.runs:,} runs ({self.jobs:,} jobs), "
                f"{self.rate:,.0f} runs/s"
            )

    def add_tests(self, reports: int, results: int) -> None:
        self.test_reports += reports
        self.test_results += results

    def summary(self) -> str:
        return (
            f"seeded {self.runs} runs ({self.jobs} jobs) and {self.test_reports} test reports "
            f"({self.test_results} results) in {self.elapsed:.1f}s ({self.rate:,.0f} runs/s)"
        )
