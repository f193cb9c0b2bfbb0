"""The demo organisation's teams: a default CODEOWNERS and rules.

Four product teams own the repositories of their systems (repository rules), the security
team every ``Security scan`` pipeline (a pipeline rule, which wins over the repository's),
developer experience the lint jobs (a job rule) and, through the organisation's default
CODEOWNERS, the GitLab pipelines no other rule claims (GitLab names a pipeline by its CI
file). The systems left over have no team: the Teams page's ``unowned`` row."""

from __future__ import annotations

from cipulse.domain.ownership import RuleKind

DEFAULT_CODEOWNERS = """\
# The demo organisation's default CODEOWNERS (repositories without their own).
# A GitLab pipeline is named by its CI file, so this line decides its team.
/.gitlab-ci.yml @acme/developer-experience
/.github/workflows/ @acme/developer-experience
"""
#: Team → the systems (``catalog.SYSTEMS``) whose repositories it owns.
TEAM_SYSTEMS = {
    "@acme/payments": ("payments", "billing", "checkout", "ledger", "pricing", "fraud"),
    "@acme/discovery": ("search", "catalog", "recommendations", "media", "storefront"),
    "@acme/platform": (
        "gateway",
        "identity",
        "scheduler",
        "feature-flags",
        "audit",
        "messaging",
        "notifications",
    ),
    "@acme/fulfilment": ("orders", "shipping", "inventory", "warehouse"),
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
