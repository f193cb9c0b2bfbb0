"""Which team owns a pipeline or a job: rules, CODEOWNERS, precedence.

A **team** is a name an organisation's rules give (``@acme/payments``, ``platform``); its
**owners** are the names a CODEOWNERS line lists; a **rule** maps what matches it to a team.
Two kinds of rules decide a pipeline's team, in this order (the first that says wins):

1. an explicit **pipeline** rule: a pattern on the pipeline's name or key;
2. an explicit **repository** rule: a pattern on the repository's full name (``owner/name``);
3. the repository's **CODEOWNERS** rules (the organisation's default file when the
   repository has none of its own): the rule deciding the pipeline's CI file when its name
   or key is one (``.github/workflows/ci.yml``, ``.gitlab-ci.yml``, ``Jenkinsfile``), else
   the file's catch-all rule (``*``); the team is the first owner that rule lists;
4. otherwise the pipeline is **unowned**.

Among explicit rules of one kind the last added that matches wins (as in CODEOWNERS).
Patterns of explicit rules are shell globs, any case: ``*`` matches any characters (``/``
too), ``?`` one. **Job** rules (a pattern on a job's name) decide a job's team in job lists:
a job is its last matching job rule's team, else its pipeline's."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from cipulse.domain.codeowners import PathRule, catch_all_rule, decisive_rule

#: The ``team`` filter's value (and the Teams list's row) of pipelines no rule gives a team.
UNOWNED = "unowned"
#: The longest team name and rule pattern.
MAX_NAME = 200
#: CI definition files a pipeline's name or key can be (GitHub names an unnamed workflow
#: by its file; GitLab names a pipeline by its CI configuration's path).
CI_FILE_SUFFIXES = (".yml", ".yaml")
CI_FILE_NAMES = ("Jenkinsfile",)


class RuleKind(StrEnum):
    PIPELINE = "pipeline"
    REPOSITORY = "repository"
    JOB = "job"


class Reason(StrEnum):
    """Why a pipeline has the team it has (shown beside it: the rule that decided)."""

    PIPELINE_RULE = "pipeline rule"
    REPOSITORY_RULE = "repository rule"
    CODEOWNERS_PATH = "CODEOWNERS path"
    CODEOWNERS_CATCH_ALL = "CODEOWNERS catch-all"
    NONE = "no rule"


@dataclass(frozen=True, slots=True)
class TeamRule:
    """An explicit rule: what kind of thing its glob ``pattern`` matches, the team it
    gives, and its position (later rules win)."""

    kind: RuleKind
    pattern: str
    team: str
    position: int

    def matches(self, text: str) -> bool:
        return fnmatch.fnmatchcase(text.lower(), self.pattern.lower())


@dataclass(frozen=True, slots=True)
class PipelineFacts:
    """What ownership reads of a pipeline."""

    id: str
    repository: str  # full name, owner/name
    key: str
    name: str


@dataclass(frozen=True, slots=True)
class Owner:
    """A pipeline's team (None: unowned) and the reason."""

    team: str | None
    reason: Reason
    path: str | None = None  # the CI file CODEOWNERS was matched against


@dataclass(frozen=True, slots=True)
class Rules:
    """An organisation's rules: explicit ones (any order) and CODEOWNERS rules per
    repository (lower-case full name; ``""``: the organisation's default file)."""

    explicit: tuple[TeamRule, ...] = ()
    codeowners: Mapping[str, Sequence[PathRule]] = field(default_factory=dict)

    def of_kind(self, kind: RuleKind) -> list[TeamRule]:
        return sorted((r for r in self.explicit if r.kind is kind), key=lambda r: r.position)

    def path_rules(self, repository: str) -> Sequence[PathRule]:
        files = self.codeowners
        own = files.get(repository.lower())
        return own if own is not None else files.get("", ())


def ci_path(pipeline: PipelineFacts) -> str | None:
    """The CI definition file a pipeline runs, when its name or key is one (None: not
    known; pipelines store no path of their own)."""
    for text in (pipeline.key, pipeline.name):
        candidate = text.strip().removeprefix("./").lstrip("/")
        if not candidate or " " in candidate:
            continue
        last = candidate.rsplit("/", 1)[-1]
        if candidate.lower().endswith(CI_FILE_SUFFIXES) or last in CI_FILE_NAMES:
            return candidate
    return None


def _last_match(rules: list[TeamRule], text: str) -> TeamRule | None:
    for rule in reversed(rules):
        if rule.matches(text):
            return rule
    return None


def owner_of(pipeline: PipelineFacts, rules: Rules) -> Owner:
    """The team of ``pipeline`` under ``rules`` (the module's precedence)."""
    pipeline_rules = rules.of_kind(RuleKind.PIPELINE)
    for text in (pipeline.name, pipeline.key):
        found = _last_match(pipeline_rules, text)
        if found is not None:
            return Owner(found.team, Reason.PIPELINE_RULE)
    found = _last_match(rules.of_kind(RuleKind.REPOSITORY), pipeline.repository)
    if found is not None:
        return Owner(found.team, Reason.REPOSITORY_RULE)
    path_rules = rules.path_rules(pipeline.repository)
    path = ci_path(pipeline)
    if path is not None:
        decided = decisive_rule(list(path_rules), path)
        if decided is not None:
            return Owner(_first_owner(decided), Reason.CODEOWNERS_PATH, path)
    catch_all = catch_all_rule(list(path_rules))
    if catch_all is not None:
        return Owner(_first_owner(catch_all), Reason.CODEOWNERS_CATCH_ALL, path)
    return Owner(None, Reason.NONE, path)


def _first_owner(rule: PathRule) -> str | None:
    return None if rule.negated or not rule.owners else rule.owners[0]


def owners(pipelines: Sequence[PipelineFacts], rules: Rules) -> dict[str, Owner]:
    """Every pipeline's owner, by pipeline id."""
    return {pipeline.id: owner_of(pipeline, rules) for pipeline in pipelines}


def team_key(name: str) -> str:
    """Team names compare in any case (GitHub's team slugs and e-mails do)."""
    return name.strip().lower()


def pipelines_of(team: str, owned: Mapping[str, Owner]) -> tuple[str, ...]:
    """The pipelines ``team`` owns (``UNOWNED``: those no rule gives a team), sorted."""
    wanted = team_key(team)
    if wanted == UNOWNED:
        return tuple(sorted(p for p, owner in owned.items() if owner.team is None))
    return tuple(
        sorted(p for p, owner in owned.items() if owner.team and team_key(owner.team) == wanted)
    )


def job_team(job_name: str, pipeline_team: str | None, job_rules: Sequence[TeamRule]) -> str | None:
    """A job's team in job lists: its last matching job rule's, else its pipeline's."""
    found = _last_match(sorted(job_rules, key=lambda r: r.position), job_name)
    return found.team if found is not None else pipeline_team
