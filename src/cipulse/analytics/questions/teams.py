"""The teams question: CI time, runs, failures, flakes, red time per team.

Every team the rules name (and the pipelines of none, as ``unowned``) with the run figures
of the pipelines it owns (``domain/ownership.py``), in the window and in the one it is
compared with. The figures are the per-pipeline figures every list reads (stored rollups
plus raw edges: ``window_figures.pipeline_figures``) added up per team, and the red periods
of the window (``recovery.recovery_in``, read once) by pipeline: no raw scan of runs.

The ranking: by CI time (compute seconds) in the window, most first, ties by name; the
``unowned`` row last whatever the order (the ranking is of teams)."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from cipulse.analytics import comparison, recovery
from cipulse.analytics.paging import DEFAULT_PAGE, Page, PageRequest, check_sort, ordered, page_of
from cipulse.analytics.questions.window_costs import CostFigures, figures_of, priced_by_pipeline
from cipulse.analytics.rollups import add_run_tally, new_run_tally
from cipulse.analytics.run_metrics import FAILING, SUCCESS
from cipulse.analytics.teams import ownership
from cipulse.analytics.window_figures import pipeline_figures
from cipulse.domain.ownership import UNOWNED, team_key
from cipulse.domain.tallies import RunTally
from cipulse.domain.window import Window
from cipulse.domain.window_costs import Priced
from cipulse.storage import rates as rate_store
from cipulse.storage import teams as team_store
from cipulse.storage.database import Database

#: What the teams list may be sorted by (``sort=field`` or ``-field``).
TEAM_SORTS = (
    "team",
    "pipelines",
    "compute_seconds",
    "runs",
    "failure_rate",
    "flaky_runs",
    "red_seconds",
    "cost",
    "waste",
)
DEFAULT_SORT = "-compute_seconds"


@dataclass(frozen=True, slots=True)
class TeamFigures:
    """A team's figures over a window. ``decided_runs`` (runs that ended in success or
    failure) is the sample ``failure_rate`` is over; ``red_seconds`` the red time of the
    red periods that ended in the window (``recovered_periods`` of them), ``red_at_end``
    the pipelines and branches still red at its end; ``cost`` its pipelines' cost and
    waste in money (``questions/window_costs.py``)."""

    compute_seconds: float
    runs: int
    decided_runs: int
    failed_runs: int
    failure_rate: float | None
    flaky_runs: int
    red_seconds: float
    recovered_periods: int
    red_at_end: int
    cost: CostFigures


@dataclass(frozen=True, slots=True)
class TeamRow:
    """A team (``unowned``: the pipelines of none), its pipelines (of those the window's
    filters leave), and its figures now and in the window compared with."""

    team: str
    unowned: bool
    pipelines: int
    figures: TeamFigures
    previous: TeamFigures

    def sort_value(self, field: str) -> Any:
        if field == "team":
            return team_key(self.team)
        if field == "pipelines":
            return self.pipelines
        if field in ("cost", "waste"):
            return self.figures.cost.figure(field)
        return getattr(self.figures, field)


@dataclass(frozen=True, slots=True)
class TeamsAnswer:
    rows: list[TeamRow]
    window: Window
    previous_window: Window
    currency: str


def _figures(
    conn: Connection, org_id: str, window: Window, members: dict[str, tuple[str, ...]]
) -> dict[str, TeamFigures]:
    """Every team's figures over ``window`` (``members``: team → its pipelines)."""
    per_pipeline = pipeline_figures(conn, org_id, window, histograms=False).runs
    red = recovery.recovery_in(conn, org_id, window, limit=None)  # every period, once
    ended: dict[str, list[float]] = defaultdict(list)
    for period in red.ended:
        ended[period.pipeline_id].append(period.seconds or 0.0)
    red_at_end = Counter(period.pipeline_id for period in red.red_now)
    priced = priced_by_pipeline(conn, org_id, window)
    found: dict[str, TeamFigures] = {}
    for team, pipeline_ids in members.items():
        tally = new_run_tally()
        cost = Priced()
        for pipeline_id in pipeline_ids:
            if pipeline_id in per_pipeline:
                add_run_tally(tally, per_pipeline[pipeline_id])
            if pipeline_id in priced:
                cost.add(priced[pipeline_id])
        periods = [seconds for p in pipeline_ids for seconds in ended.get(p, ())]
        found[team] = _of(tally, periods, sum(red_at_end[p] for p in pipeline_ids), cost)
    return found


def _of(tally: RunTally, periods: list[float], red_at_end: int, cost: Priced) -> TeamFigures:
    """A team's figures from its pipelines' tally, the lengths of their red periods that
    ended in the window, and how many of their branches are red at its end."""
    by_status = tally.by_status
    failed = sum(by_status[s] for s in FAILING)
    decided = by_status[SUCCESS] + failed
    return TeamFigures(
        compute_seconds=tally.compute_seconds,
        runs=sum(by_status.values()),
        decided_runs=decided,
        failed_runs=failed,
        failure_rate=failed / decided if decided else None,
        flaky_runs=tally.flaky_runs,
        red_seconds=sum(periods),
        recovered_periods=len(periods),
        red_at_end=red_at_end,
        cost=figures_of(cost),
    )


def _members(conn: Connection, org_id: str, window: Window) -> dict[str, tuple[str, ...]]:
    """Team name → the pipelines it owns that the window's filters leave (every team the
    rules name, then ``UNOWNED``)."""
    owned = ownership(conn, org_id)
    wanted = window.filters.team_pipelines
    names = {team_key(row.name): row.name for row in team_store.team_rows(conn, org_id)}
    members: dict[str, list[str]] = {name: [] for name in names.values()}
    members[UNOWNED] = []
    for pipeline_id, owner in sorted(owned.items()):
        if wanted is not None and pipeline_id not in wanted:
            continue
        name = names.get(team_key(owner.team), owner.team) if owner.team else UNOWNED
        members.setdefault(name, []).append(pipeline_id)
    if window.filters.team is not None:
        chosen = team_key(window.filters.team)
        members = {name: ids for name, ids in members.items() if team_key(name) == chosen}
    return {name: tuple(ids) for name, ids in members.items()}


def teams(
    database: Database, org_id: str, window: Window, now_ms: int, sort: str | None
) -> TeamsAnswer:
    """Every team's row, in ``sort`` order (default: the ranking), ``unowned`` last."""
    check_sort(sort, TEAM_SORTS)
    before = comparison.compared_previous(window, now_ms)
    with database.read() as conn:
        members = _members(conn, org_id, window)
        current = _figures(conn, org_id, window, members)
        previous = _figures(conn, org_id, before, members)
        currency = rate_store.currency(conn, org_id)
    rows = [
        TeamRow(name, name == UNOWNED, len(ids), current[name], previous[name])
        for name, ids in sorted(members.items(), key=lambda item: team_key(item[0]))
    ]
    owned = ordered([row for row in rows if not row.unowned], sort or DEFAULT_SORT)
    return TeamsAnswer([*owned, *(row for row in rows if row.unowned)], window, before, currency)


def teams_page(
    database: Database, org_id: str, window: Window, now_ms: int, page: PageRequest = DEFAULT_PAGE
) -> tuple[Page[TeamRow], TeamsAnswer]:
    answer = teams(database, org_id, window, now_ms, page.sort)
    return page_of(answer.rows, None, page), answer
