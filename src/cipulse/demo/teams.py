"""The demo organisation's teams: a default CODEOWNERS and rules.

Four product teams own the repositories of their systems (repository rules), the security
team every ``Security scan`` pipeline (a pipeline rule, which wins over the repository's),
developer experience the lint jobs (a job rule: its job lists hold them wherever they run)
and, through the organisation's default CODEOWNERS, the pipelines named by their CI file
that no other rule claims (as GitLab's webhooks name them). About half the systems have no
team: the Teams page's ``unowned`` row."""

from __future__ import annotations

from cipulse.domain.ownership import RuleKind

DEFAULT_CODEOWNERS = """\
# The demo organisation's default CODEOWNERS (repositories without their own).
# A GitLab pipeline is named by its CI file, so this line decides its team.
/.gitlab-ci.yml @acme/developer-experience
/.github/workflows/ @acme/developer-experience
# Contract tests (their JUnit reports name the file): a test's owner by its path.
/tests/contract/ @acme/platform
"""
#: Team → the systems (``catalog.SYSTEMS``) whose repositories it owns.
TEAM_SYSTEMS = {
    "@acme/payments": ("payments", "billing", "checkout", "ledger"),
    "@acme/discovery": ("search", "catalog", "recommendations"),
    "@acme/platform": ("gateway", "identity", "audit", "messaging"),
    "@acme/fulfilment": ("orders", "shipping", "inventory"),
}
PIPELINE_RULES = (("Security scan", "@acme/security"),)
JOB_RULES = (("lint*", "@acme/developer-experience"),)


def rules() -> list[tuple[RuleKind, str, str]]:
    """The explicit rules, in the order they are added (kind, pattern, team)."""
    found = [
        (RuleKind.REPOSITORY, f"*/{system}-*", team)
        for team, systems in TEAM_SYSTEMS.items()
        for system in systems
    ]
    found += [(RuleKind.PIPELINE, pattern, team) for pattern, team in PIPELINE_RULES]
    found += [(RuleKind.JOB, pattern, team) for pattern, team in JOB_RULES]
    return found
