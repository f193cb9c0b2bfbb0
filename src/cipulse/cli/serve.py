"""``cipulse serve`` and ``cipulse migrate``."""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable

import click

from cipulse import __version__
from cipulse.accounts.service import AccountService, FirstStart
from cipulse.accounts.users import UserService
from cipulse.cli.context import Context, reports_errors, say
from cipulse.cli.invocation import cipulse_command
from cipulse.ingestion.runwatch.example import API_KEY_VARIABLE, example_curl
from cipulse.settings import Settings
from cipulse.storage.database import Database, database_location
from cipulse.storage.migrate import current_revision, migrate_to
from cipulse.storage.migrate import migrate as run_migrations

#: Names the welcome message suggests where the operator has chosen none yet.
EXAMPLE_ORG = "my-org"
FIRST_USER = "admin@cipulse.local"


Command = Callable[[str], str]


def welcome(
    settings: Settings,
    first_start: FirstStart | None,
    organisations: list[str],
    has_users: bool,
    argv0: str | None = None,
) -> str:
    """What ``cipulse serve`` says before it serves: where, with which database, and the
    next step (on a first start, the new key and dashboard password, shown this once). Every
    command in it works when pasted into a shell in the folder the server started in."""

    def command(arguments: str) -> str:
        return cipulse_command(settings, arguments, argv0)

    base_url = settings.base_url
    lines = [
        f"cipulse {__version__} on {base_url}  "
        f"(database: {database_location(settings.database_url)})"
    ]
    if first_start is not None:
        lines += _first_start(base_url, first_start, command)
    elif organisations:
        lines += _later_start(base_url, shlex.quote(organisations[0]), has_users, command)
    else:
        lines += _no_organisation(base_url, command)
    key = first_start.key.key if first_start is not None else API_KEY_VARIABLE
    lines += ["", example_curl(base_url, key), ""]
    return "\n".join(lines)


def _first_start(base_url: str, first_start: FirstStart, command: Command) -> list[str]:
    """The new key and password, shown this once."""
    lines = [
        "",
        f'First start: created organisation "{first_start.key.org_name}" and an ingest API key.',
        "It is shown only this once; keep it somewhere safe:",
        "",
        f"    {first_start.key.key}",
        "",
    ]
    if first_start.password is not None:
        lines += [
            f"Sign in to the dashboard at {base_url}/ as {first_start.email} with password "
            f"{first_start.password}",
            "(shown only this once too; change it with: "
            f"{command('users set-password ' + first_start.email)})",
        ]
    else:
        lines.append(f"Dashboard: {base_url}/ (its users: {command('users list')})")
    return [*lines, "", "Send your first run (the RunWatch example, started a few minutes ago):"]


def _later_start(base_url: str, org: str, has_users: bool, command: Command) -> list[str]:
    """A user to sign in with if there is none, and a new key in ``$CIPULSE_API_KEY``."""
    if has_users:
        lines = [f"Dashboard: {base_url}/ (its users: {command('users list')})"]
    else:
        lines = [
            f"Dashboard: {base_url}/; create a user to sign in with:",
            "",
            command(f"users create {FIRST_USER} --org {org}"),
        ]
    return [
        *lines,
        "",
        "Send a run (the RunWatch example, started a few minutes ago) with a new ingest key:",
        "",
        f"export CIPULSE_API_KEY=$({command(f'keys create --org {org} --name example')})",
    ]


def _no_organisation(base_url: str, command: Command) -> list[str]:
    """Without a bootstrap organisation: the commands that make one, a key and a user."""
    return [
        "Create an organisation, an ingest key and a dashboard user (choose your own names):",
        "",
        command(f"orgs create {EXAMPLE_ORG}"),
        f"export CIPULSE_API_KEY=$({command(f'keys create --org {EXAMPLE_ORG}')})",
        command(f"users create {FIRST_USER} --org {EXAMPLE_ORG}"),
        "",
        f"Then sign in at {base_url}/ and send a run (the RunWatch example, started a few "
        "minutes ago):",
    ]


def start_up(settings: Settings, database: Database) -> str:
    """Everything ``cipulse serve`` does before serving: migrate, create what a first start
    creates, and return the welcome message."""
    run_migrations(database)
    accounts = AccountService(database)
    first_start = accounts.bootstrap(settings.bootstrap_org)
    organisations = [o.name for o in accounts.organisations()]
    has_users = UserService(database).has_users()
    return welcome(settings, first_start, organisations, has_users)


@click.command()
@click.option("--host", envvar="CIPULSE_HOST", help="Interface to listen on [default: 127.0.0.1]")
@click.option("--port", envvar="CIPULSE_PORT", type=int, help="Port to listen on [default: 8000]")
@click.option("--workers", envvar="CIPULSE_WORKERS", type=int, help="Server processes [default: 1]")
@click.option(
    "--root-path",
    envvar="CIPULSE_ROOT_PATH",
    help="Path prefix behind a reverse proxy, such as /cipulse [default: none]",
)
@click.pass_obj
@reports_errors
def serve(
    obj: Context, host: str | None, port: int | None, workers: int | None, root_path: str | None
) -> None:
    """Migrate the database and serve the API (the default command)."""
    import uvicorn

    settings = obj.settings(host=host, port=port, workers=workers, root_path=root_path)
    database = obj.database
    message = start_up(settings, database)
    database.dispose()
    say(message)
    # Worker processes build their app from the environment: hand them our settings.
    os.environ["CIPULSE_DATABASE_URL"] = settings.database_url
    os.environ["CIPULSE_ROOT_PATH"] = settings.root_path
    uvicorn.run(
        "cipulse.web.app:create_app_from_environment",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=settings.log_level,
        access_log=False,
        server_header=False,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )


@click.command()
@click.option(
    "--revision",
    help="Upgrade or downgrade to this revision instead (a rollback: back up first; see "
    "docs/deployment.md).",
)
@click.pass_obj
@reports_errors
def migrate(obj: Context, revision: str | None) -> None:
    """Create or upgrade the database schema to the newest revision."""
    if revision is not None:
        before = migrate_to(obj.database, revision)
        say(f"database schema: revision {before or 'none'} -> {current_revision(obj.database)}")
        return
    run_migrations(obj.database)
    say(f"database {database_location(obj.settings().database_url)} is up to date")
