"""What every command shares: settings, database, output, errors.

What every command shares: settings, the database, output and error reporting."""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

import click
from pydantic import ValidationError

from cipulse.analytics.refresh import refresh_all
from cipulse.errors import CipulseError, NotFound, Unavailable
from cipulse.ingestion.validation import problems_of
from cipulse.parallel import default_workers
from cipulse.settings import Settings
from cipulse.storage.database import Database, database_location

F = TypeVar("F", bound=Callable[..., Any])


class Context:
    """What every command shares: settings (environment + ``--database-url``) and, built on
    first use, the database."""

    def __init__(self, database_url: str | None) -> None:
        self.database_url = database_url
        self._database: Database | None = None

    def settings(self, **overrides: Any) -> Settings:
        values = {k: v for k, v in overrides.items() if v is not None}
        if self.database_url:
            values["database_url"] = self.database_url
        try:
            return Settings(**values)
        except ValidationError as exc:
            problems = "; ".join(problems_of(exc))
            raise click.UsageError(f"invalid setting: {problems}") from None

    @property
    def database(self) -> Database:
        if self._database is None:
            self._database = Database(self.settings())
            click.get_current_context().call_on_close(self.close)
        return self._database

    def close(self) -> None:
        if self._database is not None:
            self._database.dispose()
            self._database = None


@contextmanager
def long_writer(obj: Context) -> Iterator[Database]:
    """A database for a command that writes for long in many transactions (a purge, a
    deletion) while servers run: like a server, it checkpoints SQLite's WAL from a thread
    of its own rather than inside its transactions, which would hold the write lock."""
    database = Database(obj.settings(), background_checkpoints=True)
    try:
        with database.checkpointing():
            yield database
    finally:
        database.dispose()


def say(message: str = "") -> None:
    """Human-readable output: stderr, so stdout stays clean for what scripts capture."""
    click.echo(message, err=True)


def say_table(rows: Sequence[Sequence[str]]) -> None:
    """Print rows as left-aligned columns (the first row is the header)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


def explained(error: CipulseError) -> str:
    """The message, and for an unavailable database its cause; "retry later" only when
    retrying can help without anyone fixing something."""
    if not isinstance(error, Unavailable) or error.cause == error.message:
        return error.message
    return f"database unavailable: {error.cause}" + ("; retry later" if error.retryable else "")


def reports_errors(command: F) -> F:
    """Our errors end the command with their message and exit status 1, no traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except CipulseError as exc:
            say(f"error: {explained(exc)}{_in_which_database(exc)}")
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def _in_which_database(exc: CipulseError) -> str:
    """Something not found may be in another database (``./cipulse.db`` is a different file
    in every folder): name the one this command read."""
    context = click.get_current_context(silent=True)
    obj = context.find_object(Context) if context else None
    if not isinstance(exc, NotFound) or obj is None:
        return ""
    return f" (database: {database_location(obj.settings().database_url)})"


def say_none(obj: Context, what: str) -> None:
    """After an empty listing: which database has none (``./cipulse.db`` differs by folder)."""
    say(f"no {what} in the database {database_location(obj.settings().database_url)}")


def workers_option(work: str) -> Callable[[F], F]:
    """``--workers N``: processes for the CPU-bound half of a bulk command; resolved to the
    default (CPU cores - 1, at most 4) when not given."""
    return click.option(
        "--workers",
        type=click.IntRange(min=0),
        callback=lambda _ctx, _param, value: default_workers() if value is None else value,
        help=f"Processes that {work} (0: none, all in this process) "
        "[default: CPU cores - 1, at most 4].",
    )


def format_time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "-"


def refresh_rollups(obj: Context) -> None:
    """Bring the analytics rollups up to date after a bulk import (a server would do it in
    the background), so that the first reads are fast."""
    started = time.perf_counter()
    database = Database(obj.settings())
    try:
        marks = refresh_all(database)
    finally:
        database.dispose()
    if marks:
        say(f"analytics rollups refreshed in {time.perf_counter() - started:.1f}s")
