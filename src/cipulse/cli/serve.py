"""``cipulse serve`` and ``cipulse migrate``."""

from __future__ import annotations

import os

import click

from cipulse import __version__
from cipulse.accounts.service import AccountService, FirstStart
from cipulse.accounts.users import UserService
from cipulse.cli.context import Context, reports_errors, say
from cipulse.ingestion.runwatch.example import example_curl
from cipulse.settings import Settings
from cipulse.storage.database import Database, redacted
from cipulse.storage.migrate import current_revision, migrate_to
from cipulse.storage.migrate import migrate as run_migrations


def welcome(
    base_url: str,
    first_start: FirstStart | None,
    database_url: str,
    organisations: list[str],
    has_users: bool,
) -> str:
    """What ``cipulse serve`` says before it serves: where, with which database, and the
    next step (on a first start, the new key and dashboard password, shown this once)."""
    lines = [f"cipulse {__version__} on {base_url}  (database: {redacted(database_url)})"]
    dashboard = (
        f"Dashboard: {base_url}/ (users: cipulse users list; "
        "reset a password: cipulse users set-password EMAIL)"
    )
    if first_start is not None:
        key = first_start.key.key
        lines += [
            "",
            f'First start: created organisation "{first_start.key.org_name}" and an ingest '
            "API key.",
            "It is shown only this once; keep it somewhere safe:",
            "",
            f"    {key}",
            "",
        ]
        if first_start.password is not None:
            lines += [
                f"Sign in to the dashboard at {base_url}/ as {first_start.email} with password "
                f"{first_start.password}",
                "(shown only this once too; change it with: "
                f"cipulse users set-password {first_start.email})",
            ]
        else:
            lines.append(dashboard)
        lines.append("")
    else:
        key = "$CIPULSE_API_KEY"
        if organisations:
            lines.append(f"Create an API key with: cipulse keys create --org {organisations[0]}")
            if has_users:
                lines.append(dashboard)
            else:
                lines.append(
                    f"Dashboard: {base_url}/; create a user to sign in with: "
                    f"cipulse users create EMAIL --org {organisations[0]}"
                )
        else:
            lines.append(
                "Create an organisation and a key: cipulse orgs create NAME; "
                "cipulse keys create --org NAME"
            )
            lines.append(
                f"Then a user for the dashboard ({base_url}/): "
                "cipulse users create EMAIL --org NAME"
            )
    lines += [
        "Send your first run (the RunWatch example):",
        "",
        example_curl(base_url, key),
        "",
    ]
    return "\n".join(lines)


def start_up(settings: Settings, database: Database) -> str:
    """Everything ``cipulse serve`` does before serving: migrate, create what a first start
    creates, and return the welcome message."""
    run_migrations(database)
    accounts = AccountService(database)
    first_start = accounts.bootstrap(settings.bootstrap_org)
    organisations = [o.name for o in accounts.organisations()]
    has_users = UserService(database).has_users()
    return welcome(settings.base_url, first_start, settings.database_url, organisations, has_users)


@click.command()
@click.option("--host", envvar="CIPULSE_HOST", help="Interface to listen on [default: 127.0.0.1]")
@click.option("--port", envvar="CIPULSE_PORT", type=int, help="Port to listen on [default: 8000]")
@click.option("--workers", envvar="CIPULSE_WORKERS", type=int, help="Server processes [default: 1]")
@click.pass_obj
@reports_errors
def serve(obj: Context, host: str | None, port: int | None, workers: int | None) -> None:
    """Migrate the database and serve the API (the default command)."""
    import uvicorn

    settings = obj.settings(host=host, port=port, workers=workers)
    database = obj.database
    message = start_up(settings, database)
    database.dispose()
    say(message)
    # Worker processes build their app from the environment: hand them our settings.
    os.environ["CIPULSE_DATABASE_URL"] = settings.database_url
    uvicorn.run(
        "cipulse.web.app:create_app_from_environment",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=settings.log_level,
        access_log=False,
        server_header=False,
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
    say(f"database {redacted(obj.settings().database_url)} is up to date")
