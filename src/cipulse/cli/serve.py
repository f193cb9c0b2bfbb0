"""``cipulse serve`` and ``cipulse migrate``."""

from __future__ import annotations

import json
import os
import shlex

import click

from cipulse import __version__
from cipulse.accounts.service import AccountService, CreatedKey
from cipulse.cli.context import Context, reports_errors, say
from cipulse.ingestion.runwatch.example import SPEC_EXAMPLE
from cipulse.storage.database import redacted
from cipulse.storage.migrate import migrate as run_migrations


def example_curl(base_url: str, key: str) -> str:
    return (
        f"curl -X POST {base_url}/functions/v1/ingest \\\n"
        '  -H "Content-Type: application/json" \\\n'
        f"  -H {shlex.quote('X-API-Key: ' + key)} \\\n"
        f"  -d {shlex.quote(json.dumps(SPEC_EXAMPLE))}"
    )


def _welcome(
    base_url: str, created: CreatedKey | None, database_url: str, organisations: list[str]
) -> None:
    say(f"cipulse {__version__} on {base_url}  (database: {redacted(database_url)})")
    if created is not None:
        say()
        say(f'First start: created organisation "{created.org_name}" and an ingest API key.')
        say("It is shown only this once; keep it somewhere safe:")
        say()
        say(f"    {created.key}")
        say()
        key = created.key
    else:
        if organisations:
            say(f"Create an API key with: cipulse keys create --org {organisations[0]}")
        else:
            say(
                "Create an organisation and a key: cipulse orgs create NAME; "
                "cipulse keys create --org NAME"
            )
        key = "$CIPULSE_API_KEY"
    say("Send your first run (the RunWatch example):")
    say()
    say(example_curl(base_url, key))
    say()


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
    run_migrations(database)
    accounts = AccountService(database)
    created = accounts.bootstrap(settings.bootstrap_org)
    organisations = [o.name for o in accounts.organisations()]
    database.dispose()
    _welcome(settings.base_url, created, settings.database_url, organisations)
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
@click.pass_obj
@reports_errors
def migrate(obj: Context) -> None:
    """Create or upgrade the database schema to the newest revision."""
    run_migrations(obj.database)
    say(f"database {redacted(obj.settings().database_url)} is up to date")
