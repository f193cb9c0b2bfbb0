"""The team filter: a team resolved to its pipelines, once per question.

``team=`` narrows every figure to the pipelines a team owns (``domain/ownership.py``). The
rules are read and matched here, once per question, and the window carries the pipelines
(``Filters.team_pipelines``): the read plan then reads those pipelines' stored rollup rows,
as it does for a repository filter, so figures stay as fast as any pipeline filter. Job
lists also keep only the team's jobs when job rules exist (``Filters.owns_job``)."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.engine import Connection

from cipulse.domain.ownership import UNOWNED, Owner, RuleKind, owners, pipelines_of, team_key
from cipulse.domain.window import Window
from cipulse.errors import InvalidRequest
from cipulse.storage import teams as store


def ownership(conn: Connection, org_id: str) -> dict[str, Owner]:
    """Every pipeline's owner, by pipeline id."""
    return owners(store.pipeline_facts(conn, org_id), store.rules(conn, org_id))


def check_team(conn: Connection, org_id: str, team: str) -> None:
    """Refuse (400) a team no rule names (``unowned`` is always known)."""
    if team_key(team) == UNOWNED:
        return
    known = {team_key(row.name) for row in store.team_rows(conn, org_id)}
    if team_key(team) not in known:
        raise InvalidRequest(
            f"team: no team named {team!r} (the teams are those the rules name: "
            "GET /api/v1/teams or cipulse teams list; unowned: pipelines of no team)"
        )


def scoped(conn: Connection, org_id: str, window: Window) -> Window:
    """The window with its team filter resolved to the team's pipelines (unchanged
    without a team filter)."""
    team = window.filters.team
    if team is None or window.filters.team_pipelines is not None:
        return window
    check_team(conn, org_id, team)
    rules = store.rules(conn, org_id)
    owned = owners(store.pipeline_facts(conn, org_id), rules)
    job_rules = rules.of_kind(RuleKind.JOB)
    claims_anywhere = any(team_key(rule.team) == team_key(team) for rule in job_rules)
    filters = replace(
        window.filters,
        team_pipelines=pipelines_of(team, owned),
        team_job_rules=tuple((rule.pattern.lower(), team_key(rule.team)) for rule in job_rules),
        team_job_pipelines=tuple(sorted(owned)) if claims_anywhere else None,
    )
    return replace(window, filters=filters)


def team_of_pipelines(conn: Connection, org_id: str) -> dict[str, str]:
    """Every pipeline's team, as the rules name it (``UNOWNED``: of no team), by pipeline
    id: the teams question's grouping, for figures added up per team."""
    names = {team_key(row.name): row.name for row in store.team_rows(conn, org_id)}
    return {
        pipeline_id: names.get(team_key(owner.team), owner.team) if owner.team else UNOWNED
        for pipeline_id, owner in ownership(conn, org_id).items()
    }
