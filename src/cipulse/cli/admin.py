"""``cipulse orgs …`` and ``cipulse keys …``."""

from __future__ import annotations

import shlex
import sys
from urllib.parse import quote

import click

from cipulse.accounts.deletion import DeletionService
from cipulse.accounts.service import AccountService, parse_scopes
from cipulse.accounts.webhooks import WebhookService
from cipulse.cli.context import (
    Context,
    format_time,
    long_writer,
    reports_errors,
    say,
    say_none,
    say_table,
)
from cipulse.cli.invocation import cipulse_command
from cipulse.domain.model import WebhookProvider
from cipulse.storage.clock import month_of, now_ms


def _limit(value: int | None) -> str:
    return str(value) if value else "none"


@click.group()
def orgs() -> None:
    """Organisations and their plan limits."""


@orgs.command("create")
@click.argument("name")
@click.pass_obj
@reports_errors
def orgs_create(obj: Context, name: str) -> None:
    """Create an organisation."""
    organisation = AccountService(obj.database).create_organisation(name)
    say(f"created organisation {organisation.name!r}")
    arguments = f"keys create --org {shlex.quote(organisation.name)}"
    say(f"create its first key with: {cipulse_command(obj.settings(), arguments)}")


@orgs.command("list")
@click.pass_obj
@reports_errors
def orgs_list(obj: Context) -> None:
    """List organisations with their limits and this month's usage."""
    service = AccountService(obj.database)
    month = month_of(now_ms())
    rows = [("NAME", "CREATED", "REPOSITORIES", "MAX REPOS", f"RUNS {month}", "MAX RUNS/MONTH")]
    for organisation in service.organisations():
        repositories, runs = service.usage(organisation.name, month)
        rows.append(
            (
                organisation.name,
                format_time(organisation.created_at),
                str(repositories),
                _limit(organisation.max_repositories),
                str(runs),
                _limit(organisation.max_runs_per_month),
            )
        )
    say_table(rows)
    if len(rows) == 1:
        say_none(obj, "organisations")


@orgs.command("set-limits")
@click.argument("name")
@click.option("--max-repositories", type=int, help="Most repositories (0 = no limit).")
@click.option(
    "--max-runs-per-month", type=int, help="Most new run attempts per UTC month (0 = no limit)."
)
@click.pass_obj
@reports_errors
def orgs_set_limits(
    obj: Context, name: str, max_repositories: int | None, max_runs_per_month: int | None
) -> None:
    """Set plan limits; a post that would exceed one gets 402."""
    if max_repositories is None and max_runs_per_month is None:
        raise click.UsageError("give --max-repositories and/or --max-runs-per-month")
    organisation = AccountService(obj.database).set_limits(
        name, max_repositories, max_runs_per_month
    )
    say(
        f"{organisation.name}: max repositories {_limit(organisation.max_repositories)}, "
        f"max runs per month {_limit(organisation.max_runs_per_month)}"
    )


@orgs.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
@reports_errors
def orgs_delete(obj: Context, name: str, yes: bool) -> None:
    """Delete an organisation and everything of it, for good: keys, webhook secrets,
    memberships, repositories, runs, figures. Its users stay (they may belong to others).
    Its keys stop working at once; the rest goes in short batches while servers run."""
    organisation = AccountService(obj.database).organisation(name)
    if not yes:
        click.confirm(
            f"Delete the organisation {organisation.name!r} and all its data?",
            abort=True,
            err=True,
        )
    with long_writer(obj) as database:
        deleted = DeletionService(database).delete_organisation(organisation.name)
    attempts = deleted.rows.get("run_attempts", 0)
    say(
        f"deleted {deleted.name!r}: {sum(deleted.rows.values()):,} rows ({attempts:,} run attempts)"
    )
    for email in deleted.users_left_without_organisation:
        say(f"{email} belongs to no organisation now (cipulse users delete {email})")


@orgs.command("set-webhook-secret")
@click.argument("name")
@click.option(
    "--provider",
    type=click.Choice([p.value for p in WebhookProvider]),
    required=True,
    help="The code host whose webhooks the secret verifies.",
)
@click.pass_obj
@reports_errors
def orgs_set_webhook_secret(obj: Context, name: str, provider: str) -> None:
    """Set the secret that verifies the organisation's GitHub or GitLab webhooks: read from
    stdin (echo "$SECRET" | cipulse orgs set-webhook-secret …), or, when stdin is empty or a
    terminal, a new random one printed (only it) on stdout. It replaces the previous one."""
    given = None if sys.stdin.isatty() else sys.stdin.read().strip() or None
    secret = WebhookService(obj.database).set_secret(name, WebhookProvider(provider), given)
    say(
        f"{name}: {provider} webhook secret set; deliveries to /webhooks/{provider}/"
        f"{quote(name, safe='')} on this server are verified with it (docs/integrations.md)"
    )
    if given is None:
        kept = "only its hash" if provider == WebhookProvider.GITLAB else "it, to check signatures"
        say(f"the new secret follows; it is shown this once (cipulse keeps {kept}):")
        click.echo(secret)


@click.group()
def keys() -> None:
    """API keys: create (shown once), list, revoke."""


@keys.command("create")
@click.option("--org", "org_name", required=True, help="Organisation the key belongs to.")
@click.option(
    "--name",
    "label",
    help="A label to recognise the key by (at most 100 characters, no control characters).",
)
@click.option("--scope", default="ingest", show_default=True, help="Comma-separated: ingest, read.")
@click.pass_obj
@reports_errors
def keys_create(obj: Context, org_name: str, label: str | None, scope: str) -> None:
    """Create a key and print it (only it) on stdout, so KEY=$(cipulse keys create …) works.
    The key is shown this once; only its hash is stored."""
    created = AccountService(obj.database).create_key(org_name, label, parse_scopes(scope))
    say(
        f"created key {created.prefix}… for {created.org_name} "
        f"(scopes: {','.join(created.scopes)}); it will not be shown again"
    )
    click.echo(created.key)


@keys.command("list")
@click.option("--org", "org_name", help="Only this organisation's keys.")
@click.pass_obj
@reports_errors
def keys_list(obj: Context, org_name: str | None) -> None:
    """List keys: prefix, scopes, created, last used, revoked."""
    rows = [("ORG", "PREFIX", "NAME", "SCOPES", "CREATED", "LAST USED", "REVOKED")]
    for key in AccountService(obj.database).keys(org_name):
        rows.append(
            (
                key.org_name,
                key.prefix,
                key.name or "-",
                ",".join(key.scopes),
                format_time(key.created_at),
                format_time(key.last_used_at),
                format_time(key.revoked_at),
            )
        )
    say_table(rows)
    if len(rows) == 1:
        say_none(obj, "API keys" + (f" of {org_name!r}" if org_name else ""))


@keys.command("revoke")
@click.argument("prefix")
@click.pass_obj
@reports_errors
def keys_revoke(obj: Context, prefix: str) -> None:
    """Revoke the key with this prefix; requests with it get 401 from now on."""
    AccountService(obj.database).revoke_key(prefix)
    say(f"revoked key {prefix}")
