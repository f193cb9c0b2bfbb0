"""``cipulse teams …``: CODEOWNERS, rules, and the teams they name.

``cipulse teams …``: import a CODEOWNERS file, add, remove and list explicit rules, and
list the teams with the pipelines they own (``domain/ownership.py`` states the precedence)."""

from __future__ import annotations

from pathlib import Path

import click

from cipulse.accounts.teams import TeamService, decode
from cipulse.cli.context import Context, format_time, reports_errors, say, say_none, say_table
from cipulse.domain.ownership import RuleKind
from cipulse.storage.clock import from_ms

org_option = click.option("--org", "org_name", required=True, help="Organisation.")
KINDS = click.Choice([kind.value for kind in RuleKind])


@click.group()
def teams() -> None:
    """Teams: import a CODEOWNERS file, rules add|remove|list, list."""


@teams.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@org_option
@click.option(
    "--repository",
    help="The repository (owner/name) the file is of [default: the organisation's "
    "default file, for repositories without one of their own].",
)
@click.pass_obj
@reports_errors
def teams_import(obj: Context, file: Path, org_name: str, repository: str | None) -> None:
    """Import FILE, a CODEOWNERS file, replacing the repository's rules.

    A pipeline's team is the first owner of the rule that decides its CI file (a GitHub
    workflow or .gitlab-ci.yml named by the pipeline), else of the file's * rule;
    explicit rules come first (cipulse teams rules add)."""
    text = decode(file.read_bytes()[: 3 * 1024 * 1024 + 1])
    imported = TeamService(obj.database).import_codeowners(org_name, text, repository)
    where = imported.repository or f"the default of {org_name}"
    named = ", ".join(imported.teams) or "none"
    say(f"imported {imported.rules:,} rules for {where}; teams: {named}")


@teams.group("rules")
def rules() -> None:
    """Explicit rules: a pipeline, repository or job pattern gives a team."""


@rules.command("add")
@click.argument("kind", type=KINDS)
@click.argument("pattern")
@click.argument("team")
@org_option
@click.pass_obj
@reports_errors
def rules_add(obj: Context, kind: str, pattern: str, team: str, org_name: str) -> None:
    """Give TEAM what PATTERN matches: pipeline names or keys, repositories (owner/name)
    or job names, as a glob in any case (* any characters, ? one).

    Pipeline rules win over repository rules, which win over CODEOWNERS; among rules of a
    kind, the last added wins. Adding a pattern again gives it the new team."""
    added = TeamService(obj.database).add_rule(org_name, kind, pattern, team)
    say(f"{added.kind.value} rule {added.pattern!r} → {added.team}")


@rules.command("remove")
@click.argument("kind", type=KINDS)
@click.argument("pattern")
@org_option
@click.pass_obj
@reports_errors
def rules_remove(obj: Context, kind: str, pattern: str, org_name: str) -> None:
    """Remove the KIND rule of PATTERN."""
    TeamService(obj.database).remove_rule(org_name, kind, pattern)
    say(f"removed the {kind} rule {pattern!r}")


@rules.command("list")
@org_option
@click.pass_obj
@reports_errors
def rules_list(obj: Context, org_name: str) -> None:
    """List the explicit rules (in the order they apply) and the CODEOWNERS files."""
    listing = TeamService(obj.database).rules(org_name)
    rows = [("KIND", "PATTERN", "TEAM")]
    rows += [(rule.kind.value, rule.pattern, rule.team) for rule in listing.explicit]
    rows += [
        (
            "codeowners",
            f.repository or "(default)",
            f"{f.rules} rules, {format_time(from_ms(f.imported_at_ms))}",
        )
        for f in listing.files
    ]
    say_table(rows)
    if len(rows) == 1:
        say_none(obj, f"team rules of {org_name!r}")


@teams.command("list")
@org_option
@click.option("--pipelines", is_flag=True, help="List every pipeline with its team and why.")
@click.pass_obj
@reports_errors
def teams_list(obj: Context, org_name: str, pipelines: bool) -> None:
    """List the teams the rules name with how many pipelines each owns."""
    service = TeamService(obj.database)
    rows: list[tuple[str, ...]]
    if pipelines:
        rows = [("REPOSITORY", "PIPELINE", "TEAM", "WHY")]
        rows += [
            (
                o.pipeline.repository,
                o.pipeline.name,
                o.owner.team or "unowned",
                o.owner.reason.value,
            )
            for o in service.pipeline_owners(org_name)
        ]
    else:
        rows = [("TEAM", "PIPELINES")]
        rows += [(team.name, str(team.pipelines)) for team in service.teams(org_name)]
    say_table(rows)
