"""The costs question: what a window's CI cost, and wasted, by group.

A window's cost in money and its waste (``domain/window_costs.py``), from the runner
rollup's billed time per (pipeline, label set, day) (``analytics/cost_figures.py``) priced
at the organisation's rate card, in its currency; the same for the window it is compared
with (``comparison.compared_previous``) and each change; and both per group: pipeline,
repository, runner label set, team (the pipelines the rules give it) or branch scope
(``default`` / ``other``: each scope's stored rows read in turn). A group's figures are sums
of its parts', so the groups add up to the window's. No raw scan but the plan's edges."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from sqlalchemy.engine import Connection

from cipulse.analytics import comparison
from cipulse.analytics.comparison import Change, change_of
from cipulse.analytics.cost_figures import PartKey, billed_parts, priced_parts
from cipulse.analytics.questions.summary import WindowBounds, bounds_of
from cipulse.analytics.teams import team_of_pipelines
from cipulse.domain.billing import MINUTE_MS, Rate, rounding_rule
from cipulse.domain.runner_tallies import UNKNOWN_LABELS
from cipulse.domain.window import BRANCH_SCOPES, Window
from cipulse.domain.window_costs import Priced, rate_spans
from cipulse.errors import InvalidRequest
from cipulse.storage import list_store
from cipulse.storage import rates as rate_store
from cipulse.storage import teams as team_store
from cipulse.storage.database import Database
from cipulse.storage.rates import day_number

#: What the groups may be (``group_by=``).
GROUPINGS = ("pipeline", "repository", "label_set", "team", "branch_scope")
DEFAULT_GROUPING = "pipeline"
#: The figures compared with the previous window (relative changes).
COST_FIGURES = ("cost", "waste", "billed_minutes", "unpriced_minutes")
#: What the figures are over, in words (the answer's ``sample``).
SAMPLE_RULE = (
    "job executions directly under their run, of the attempts started in the window, each "
    "billed by its pipeline's provider's rule and priced at the rate of its label set on "
    "the day its attempt started"
)


@dataclass(frozen=True, slots=True)
class CostFigures:
    """A window's (or a group's) cost over its ``jobs`` executions: billed time, the part
    no rate prices, the cost of the priced part and the waste (micro-units; None when time
    was billed and none of it is priced: unknown, never 0)."""

    jobs: int
    billed_ms: int
    unpriced_ms: int
    cost_micros: int | None
    waste_billed_ms: int
    waste_unpriced_ms: int
    waste_micros: int | None

    @property
    def complete(self) -> bool:
        """Whether every billed minute is priced (else the cost is of the priced ones)."""
        return self.unpriced_ms == 0

    def figure(self, name: str) -> float | None:
        """A compared figure, by its name in ``COST_FIGURES`` (money in micro-units)."""
        if name == "cost":
            return self.cost_micros
        if name == "waste":
            return self.waste_micros
        if name == "billed_minutes":
            return self.billed_ms / MINUTE_MS
        return self.unpriced_ms / MINUTE_MS


def figures_of(priced: Priced) -> CostFigures:
    return CostFigures(
        jobs=priced.jobs,
        billed_ms=priced.billed_ms,
        unpriced_ms=priced.unpriced_ms,
        cost_micros=priced.cost,
        waste_billed_ms=priced.waste_billed_ms,
        waste_unpriced_ms=priced.waste_unpriced_ms,
        waste_micros=priced.waste,
    )


@dataclass(frozen=True, slots=True)
class CostGroup:
    """One group: its key (a pipeline id, a repository, a label set (None: none named), a
    team, a branch scope), a name to show, the pipeline's repository, its figures now and
    in the window compared with."""

    key: str | None
    name: str
    repository: str | None
    figures: CostFigures
    previous: CostFigures


@dataclass(frozen=True, slots=True)
class CostAnswer:
    """A window's cost and waste, the compared window's, each change, and the groups
    (most cost first); ``rules``: how each provider priced here bills its minutes."""

    currency: str
    group_by: str
    window: WindowBounds
    figures: CostFigures
    previous_window: WindowBounds
    previous: CostFigures
    changes: dict[str, Change]
    groups: list[CostGroup]
    rules: dict[str, str]


#: (branch scope or None, pipeline id, label set) → the group's key.
Grouper = Callable[[str | None, str, str], str | None]


@dataclass(frozen=True, slots=True)
class _Context:
    """What pricing and grouping read once per question."""

    rates: list[Rate]
    spans: list[int]
    providers: dict[str, str]
    group: Grouper
    names: dict[str | None, tuple[str, str | None]]
    #: Groups listed even without a billed minute (every team the rules name).
    every_key: tuple[str, ...] = ()


def check_grouping(group_by: str | None) -> str:
    if group_by is None or group_by == "":
        return DEFAULT_GROUPING
    if group_by not in GROUPINGS:
        raise InvalidRequest(f"group_by: must be one of {', '.join(GROUPINGS)}")
    return group_by


def costs(
    database: Database, org_id: str, window: Window, now_ms: int, group_by: str | None = None
) -> CostAnswer:
    """The window's costs grouped by ``group_by`` (default: pipeline), and before."""
    grouping = check_grouping(group_by)
    before = comparison.compared_previous(window, now_ms)
    with database.read() as conn:
        context = _context(conn, org_id, grouping)
        now_groups = _grouped(conn, org_id, window, context, grouping)
        before_groups = _grouped(conn, org_id, before, context, grouping)
        currency = rate_store.currency(conn, org_id)
    current, previous = _total(now_groups), _total(before_groups)
    earlier = previous.jobs
    figures, previous_figures = figures_of(current), figures_of(previous)
    return CostAnswer(
        currency=currency,
        group_by=grouping,
        window=bounds_of(window, now_ms),
        figures=figures,
        previous_window=bounds_of(before),
        previous=previous_figures,
        changes={
            name: change_of(name, figures.figure(name), previous_figures.figure(name), earlier)
            for name in COST_FIGURES
        },
        groups=_ranked(now_groups, before_groups, context, _listed(context, window)),
        rules={p: rounding_rule(p) for p in sorted(set(context.providers.values()))},
    )


def _context(conn: Connection, org_id: str, grouping: str) -> _Context:
    providers = list_store.latest_providers(conn, org_id)
    facts = {f.id: f for f in team_store.pipeline_facts(conn, org_id)}
    names: dict[str | None, tuple[str, str | None]] = {}
    group: Grouper
    if grouping == "pipeline":
        names = {p: (f.name, f.repository) for p, f in facts.items()}
        group = lambda scope, pipeline, labels: pipeline  # noqa: E731
    elif grouping == "repository":
        repository = {p: f.repository for p, f in facts.items()}
        group = lambda scope, pipeline, labels: repository.get(pipeline)  # noqa: E731
    elif grouping == "label_set":
        group = lambda scope, pipeline, labels: labels or None  # noqa: E731
    elif grouping == "team":
        teams = team_of_pipelines(conn, org_id)
        group = lambda scope, pipeline, labels: teams.get(pipeline)  # noqa: E731
        every = tuple(row.name for row in team_store.team_rows(conn, org_id))
        return _Context(*_card(conn, org_id), providers, group, names, every)
    else:
        group = lambda scope, pipeline, labels: scope  # noqa: E731
    return _Context(*_card(conn, org_id), providers, group, names)


def _card(conn: Connection, org_id: str) -> tuple[list[Rate], list[int]]:
    """The rate card, and its spans (the days no rate starts or ends inside)."""
    rates = rate_store.rate_card(conn, org_id)
    return rates, rate_spans([day_number(rate.effective) for rate in rates])


def _scopes(window: Window, grouping: str) -> list[tuple[str | None, Window]]:
    """The windows to read: one, or one per branch scope (the window's own if it has one)."""
    if grouping != "branch_scope":
        return [(None, window)]
    chosen = window.filters.branch_scope
    scopes = (chosen,) if chosen is not None else BRANCH_SCOPES
    return [(s, replace(window, filters=replace(window.filters, branch_scope=s))) for s in scopes]


def _grouped(
    conn: Connection, org_id: str, window: Window, context: _Context, grouping: str
) -> dict[str | None, Priced]:
    """The window's priced parts added up per group."""
    found: dict[str | None, Priced] = {}
    for scope, scoped in _scopes(window, grouping):
        parts = billed_parts(conn, org_id, scoped, context.spans)
        priced = priced_parts(parts, context.rates, context.providers)
        for (pipeline_id, labels, _), part in priced.items():
            key = context.group(scope, pipeline_id, labels)
            found.setdefault(key, Priced()).add(part)
    return found


def priced_by_pipeline(conn: Connection, org_id: str, window: Window) -> dict[str, Priced]:
    """The window's priced time per pipeline (the teams question adds them up per team)."""
    rates, spans = _card(conn, org_id)
    providers = list_store.latest_providers(conn, org_id)
    found: dict[str, Priced] = {}
    parts: dict[PartKey, Priced] = priced_parts(
        billed_parts(conn, org_id, window, spans), rates, providers
    )
    for (pipeline_id, _, _), part in parts.items():
        found.setdefault(pipeline_id, Priced()).add(part)
    return found


def _listed(context: _Context, window: Window) -> tuple[str, ...]:
    """The groups listed even when nothing was billed: every team, unless one is chosen."""
    return () if window.filters.team is not None else context.every_key


def _total(groups: dict[str | None, Priced]) -> Priced:
    total = Priced()
    for priced in groups.values():
        total.add(priced)
    return total


def _ranked(
    now: dict[str | None, Priced],
    before: dict[str | None, Priced],
    context: _Context,
    listed: tuple[str, ...],
) -> list[CostGroup]:
    """The groups of either window (and ``listed``), most cost first (then most billed
    time, then name)."""
    rows = []
    for key in set(now) | set(before) | set(listed):
        name, repository = context.names.get(key, (_name_of(key), None))
        rows.append(
            CostGroup(
                key=key,
                name=name,
                repository=repository,
                figures=figures_of(now.get(key, Priced())),
                previous=figures_of(before.get(key, Priced())),
            )
        )
    rows.sort(
        key=lambda g: (-(g.figures.cost_micros or 0), -g.figures.billed_ms, g.name, g.key or "")
    )
    return rows


def _name_of(key: str | None) -> str:
    """A group's name to show: its key, ``unknown`` for the label set of none named."""
    return key if key not in (None, UNKNOWN_LABELS) else "unknown"
