"""Teams: CODEOWNERS imported, explicit rules added and removed, listed.

The administrative side of teams (``domain/ownership.py`` says what the rules mean): a
CODEOWNERS file imported for a repository (or as the organisation's default), explicit
pipeline, repository and job rules, and the teams with the pipelines they own. Bad input is
refused whole, every problem named at once; nothing is half-written."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from cipulse.accounts.service import AccountService
from cipulse.domain import codeowners
from cipulse.domain.ownership import (
    MAX_NAME,
    UNOWNED,
    Owner,
    PipelineFacts,
    RuleKind,
    TeamRule,
    owners,
    team_key,
)
from cipulse.errors import InvalidRequest, NotFound
from cipulse.storage import teams as store
from cipulse.storage.clock import now_ms
from cipulse.storage.database import Database
from cipulse.storage.teams import CodeownersFile

MAX_REPOSITORY = 1000


@dataclass(frozen=True, slots=True)
class Imported:
    """What an import stored: the repository (``""``: the default), its rules and the
    teams they name (first owners)."""

    repository: str
    rules: int
    teams: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TeamSummary:
    name: str
    pipelines: int


@dataclass(frozen=True, slots=True)
class RuleListing:
    explicit: list[TeamRule]
    files: list[CodeownersFile]


@dataclass(frozen=True, slots=True)
class PipelineOwner:
    pipeline: PipelineFacts
    owner: Owner


def decode(content: bytes) -> str:
    """A CODEOWNERS file's bytes as text: UTF-8 (a BOM dropped), at most the size limit."""
    if len(content) > codeowners.MAX_BYTES:
        raise InvalidRequest(f"file: larger than {codeowners.MAX_BYTES // (1024 * 1024)} MB")
    try:
        return content.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise InvalidRequest(f"file: not UTF-8 text (byte {exc.start})") from None


def _text_problems(name: str, value: str, limit: int) -> list[str]:
    if not value.strip():
        return [f"{name}: must not be empty"]
    if len(value) > limit:
        return [f"{name}: must be at most {limit} characters"]
    if any(ord(char) < 32 for char in value):
        return [f"{name}: must not hold control characters"]
    return []


class TeamService:
    def __init__(self, database: Database) -> None:
        self.database = database

    def _org_id(self, org_name: str) -> str:
        return AccountService(self.database).organisation(org_name).id

    def import_codeowners(self, org_name: str, text: str, repository: str | None) -> Imported:
        """Store a CODEOWNERS file as ``repository``'s rules (None or empty: the
        organisation's default file), replacing what it had."""
        scope = (repository or "").strip()
        if scope:
            problems = _text_problems("repository", scope, MAX_REPOSITORY)
            if problems:
                raise InvalidRequest("; ".join(problems), problems)
        parsed = codeowners.parse(text)
        org_id = self._org_id(org_name)
        with self.database.write() as conn:
            store.replace_path_rules(conn, org_id, scope, parsed.rules, now_ms())
        named = dict.fromkeys(rule.owners[0] for rule in parsed.rules if rule.owners)
        return Imported(scope, len(parsed.rules), tuple(named))

    def remove_codeowners(self, org_name: str, repository: str | None) -> int:
        org_id = self._org_id(org_name)
        with self.database.write() as conn:
            removed = store.remove_path_rules(conn, org_id, (repository or "").strip(), now_ms())
        if not removed:
            shown = repository or "the organisation's default"
            raise NotFound(f"repository: no CODEOWNERS stored for {shown}")
        return removed

    def add_rule(self, org_name: str, kind: str, pattern: str, team: str) -> TeamRule:
        """Add an explicit rule (the same kind and pattern again: its new team, last)."""
        problems: list[str] = []
        if kind not in set(RuleKind):
            problems.append("kind: must be " + ", ".join(k.value for k in RuleKind))
        problems += _text_problems("pattern", pattern, MAX_NAME)
        problems += _text_problems("team", team, MAX_NAME)
        if not problems and team_key(team) == UNOWNED:
            problems.append(f"team: {UNOWNED!r} is the name of pipelines of no team")
        if problems:
            raise InvalidRequest("; ".join(problems), problems)
        org_id = self._org_id(org_name)
        with self.database.write() as conn:
            store.add_rule(conn, org_id, RuleKind(kind), pattern.strip(), team.strip(), now_ms())
            added = store.explicit_rules(conn, org_id)[-1]
        return added

    def remove_rule(self, org_name: str, kind: str, pattern: str) -> None:
        if kind not in set(RuleKind):
            raise InvalidRequest("kind: must be " + ", ".join(k.value for k in RuleKind))
        org_id = self._org_id(org_name)
        with self.database.write() as conn:
            removed = store.remove_rule(conn, org_id, RuleKind(kind), pattern.strip(), now_ms())
        if not removed:
            raise NotFound(f"rule: no {kind} rule {pattern.strip()!r} in {org_name!r}")

    def rules(self, org_name: str) -> RuleListing:
        org_id = self._org_id(org_name)
        with self.database.read() as conn:
            return RuleListing(
                store.explicit_rules(conn, org_id), store.codeowners_files(conn, org_id)
            )

    def pipeline_owners(self, org_name: str) -> list[PipelineOwner]:
        """Every pipeline with its team and the reason, by repository and name."""
        org_id = self._org_id(org_name)
        with self.database.read() as conn:
            facts = store.pipeline_facts(conn, org_id)
            owned = owners(facts, store.rules(conn, org_id))
        listed = [PipelineOwner(p, owned[p.id]) for p in facts]
        return sorted(listed, key=lambda o: (o.pipeline.repository.lower(), o.pipeline.name))

    def teams(self, org_name: str) -> list[TeamSummary]:
        """The teams the rules name, each with how many pipelines it owns, and the
        pipelines of no team (``unowned``) last."""
        return self.teams_of(self._org_id(org_name))

    def team_names(self, org_id: str) -> list[str]:
        """The names of the teams the rules name, in order (no pipeline counted: one read
        of the teams, for the dashboard's team picker)."""
        with self.database.read() as conn:
            return [row.name for row in store.team_rows(conn, org_id)]

    def teams_of(self, org_id: str) -> list[TeamSummary]:
        """``teams``, of an organisation known by id."""
        with self.database.read() as conn:
            rows = store.team_rows(conn, org_id)
            owned = owners(store.pipeline_facts(conn, org_id), store.rules(conn, org_id))
        counts = Counter(team_key(o.team) if o.team else UNOWNED for o in owned.values())
        found = [TeamSummary(row.name, counts.get(team_key(row.name), 0)) for row in rows]
        return [*found, TeamSummary(UNOWNED, counts.get(UNOWNED, 0))]
