"""Teams and their rules: stored, replaced, and read back as domain rules.

Teams and their rules, read and written for one organisation. A CODEOWNERS import replaces
a repository's rules in one transaction; an explicit rule is one row per (kind, pattern),
added again it names its new team and goes last. Teams no rule names any more are dropped
in the transaction that stops naming them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cipulse.domain import ids
from cipulse.domain.codeowners import PathRule
from cipulse.domain.ownership import PipelineFacts, RuleKind, Rules, TeamRule, team_key
from cipulse.storage.schema import codeowners_rules, pipelines, repositories, team_rules, teams

c, t, tr = codeowners_rules, teams, team_rules


@dataclass(frozen=True, slots=True)
class TeamRow:
    id: str
    name: str
    created_at_ms: int


@dataclass(frozen=True, slots=True)
class CodeownersFile:
    """A repository's stored CODEOWNERS rules (``""``: the organisation's default)."""

    repository: str
    rules: int
    imported_at_ms: int


def replace_path_rules(
    conn: Connection, org_id: str, repository: str, rules: Sequence[PathRule], now_ms: int
) -> None:
    """Store ``rules`` as the repository's CODEOWNERS (``""``: the default), replacing
    what it had."""
    scope = repository.lower()
    conn.execute(sa.delete(c).where(c.c.org_id == org_id, c.c.repository == scope))
    rows = [
        {
            "org_id": org_id,
            "repository": scope,
            "position": position,
            "line": rule.line,
            "pattern": rule.pattern,
            "owners": list(rule.owners),
            "negated": rule.negated,
            "section": rule.section,
            "imported_at_ms": now_ms,
        }
        for position, rule in enumerate(rules)
    ]
    for start in range(0, len(rows), 1000):
        conn.execute(sa.insert(c), rows[start : start + 1000])
    sync_teams(conn, org_id, now_ms)


def remove_path_rules(conn: Connection, org_id: str, repository: str, now_ms: int) -> int:
    """Forget a repository's CODEOWNERS; returns how many rules it had."""
    deleted = conn.execute(
        sa.delete(c).where(c.c.org_id == org_id, c.c.repository == repository.lower())
    ).rowcount
    sync_teams(conn, org_id, now_ms)
    return int(deleted or 0)


def add_rule(
    conn: Connection, org_id: str, kind: RuleKind, pattern: str, team: str, now_ms: int
) -> None:
    """Add (or move last, naming ``team``) the rule of ``kind`` and ``pattern``."""
    team_id = _ensure_team(conn, org_id, team, now_ms)
    rule_id = ids.team_rule_id(org_id, kind.value, pattern)
    last = conn.execute(sa.select(sa.func.max(tr.c.position)).where(tr.c.org_id == org_id))
    position = (last.scalar() or 0) + 1
    conn.execute(sa.delete(tr).where(tr.c.org_id == org_id, tr.c.id == rule_id))
    conn.execute(
        sa.insert(tr).values(
            org_id=org_id,
            id=rule_id,
            kind=kind.value,
            pattern=pattern,
            team_id=team_id,
            position=position,
            created_at_ms=now_ms,
        )
    )
    sync_teams(conn, org_id, now_ms)


def remove_rule(conn: Connection, org_id: str, kind: RuleKind, pattern: str, now_ms: int) -> bool:
    """Remove the rule of ``kind`` and ``pattern``; whether there was one."""
    rule_id = ids.team_rule_id(org_id, kind.value, pattern)
    deleted = conn.execute(sa.delete(tr).where(tr.c.org_id == org_id, tr.c.id == rule_id))
    sync_teams(conn, org_id, now_ms)
    return bool(deleted.rowcount)


def _ensure_team(conn: Connection, org_id: str, name: str, now_ms: int) -> str:
    team_id = ids.team_id(org_id, team_key(name))
    found = conn.execute(sa.select(t.c.id).where(t.c.org_id == org_id, t.c.id == team_id))
    if found.first() is None:
        conn.execute(
            sa.insert(t).values(org_id=org_id, id=team_id, name=name.strip(), created_at_ms=now_ms)
        )
    return team_id


def sync_teams(conn: Connection, org_id: str, now_ms: int) -> None:
    """Make the teams exactly those the rules name: the first owner of every CODEOWNERS
    rule (a pipeline's team) and every explicit rule's team."""
    named = {
        team_key(owners[0]): owners[0]
        for (owners,) in conn.execute(sa.select(c.c.owners).where(c.c.org_id == org_id))
        if owners
    }
    for name in named.values():
        _ensure_team(conn, org_id, name, now_ms)
    kept = {ids.team_id(org_id, key) for key in named}
    kept |= {
        str(team_id)
        for (team_id,) in conn.execute(sa.select(tr.c.team_id).where(tr.c.org_id == org_id))
    }
    stale = [
        str(team_id)
        for (team_id,) in conn.execute(sa.select(t.c.id).where(t.c.org_id == org_id))
        if str(team_id) not in kept
    ]
    for start in range(0, len(stale), 500):
        conn.execute(
            sa.delete(t).where(t.c.org_id == org_id, t.c.id.in_(stale[start : start + 500]))
        )


def team_rows(conn: Connection, org_id: str) -> list[TeamRow]:
    query = sa.select(t.c.id, t.c.name, t.c.created_at_ms).where(t.c.org_id == org_id)
    rows = [TeamRow(str(row[0]), row[1], row[2]) for row in conn.execute(query)]
    return sorted(rows, key=lambda row: (team_key(row.name), row.name))


def explicit_rules(conn: Connection, org_id: str) -> list[TeamRule]:
    """The explicit rules, oldest first, with their team's name."""
    query = (
        sa.select(tr.c.kind, tr.c.pattern, t.c.name, tr.c.position)
        .select_from(tr.join(t, sa.and_(t.c.org_id == tr.c.org_id, t.c.id == tr.c.team_id)))
        .where(tr.c.org_id == org_id)
        .order_by(tr.c.position)
    )
    return [
        TeamRule(RuleKind(kind), pattern, name, int(position))
        for kind, pattern, name, position in conn.execute(query)
    ]


def path_rules(conn: Connection, org_id: str) -> dict[str, list[PathRule]]:
    """Every repository's CODEOWNERS rules in file order (``""``: the default file)."""
    query = (
        sa.select(c.c.repository, c.c.line, c.c.pattern, c.c.owners, c.c.negated, c.c.section)
        .where(c.c.org_id == org_id)
        .order_by(c.c.repository, c.c.position)
    )
    found: dict[str, list[PathRule]] = defaultdict(list)
    for repository, line, pattern, owners, negated, section in conn.execute(query):
        found[repository].append(
            PathRule(int(line), pattern, tuple(owners), bool(negated), section)
        )
    return dict(found)


def codeowners_files(conn: Connection, org_id: str) -> list[CodeownersFile]:
    query = (
        sa.select(c.c.repository, sa.func.count(), sa.func.max(c.c.imported_at_ms))
        .where(c.c.org_id == org_id)
        .group_by(c.c.repository)
        .order_by(c.c.repository)
    )
    return [CodeownersFile(repo, int(count), int(at)) for repo, count, at in conn.execute(query)]


def rules(conn: Connection, org_id: str) -> Rules:
    """Every rule of the organisation, as ``domain/ownership.py`` reads them."""
    return Rules(tuple(explicit_rules(conn, org_id)), path_rules(conn, org_id))


def pipeline_facts(conn: Connection, org_id: str) -> list[PipelineFacts]:
    """Every pipeline of the organisation with what ownership reads of it."""
    p, r = pipelines, repositories
    query = (
        sa.select(p.c.id, r.c.full_name, p.c.pipeline_key, p.c.name)
        .select_from(p.join(r, sa.and_(r.c.org_id == p.c.org_id, r.c.id == p.c.repository_id)))
        .where(p.c.org_id == org_id)
    )
    return [PipelineFacts(str(row[0]), row[1], row[2], row[3]) for row in conn.execute(query)]
