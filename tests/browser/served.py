"""A signed-up organisation served over HTTP with its runs posted: browser tests' setup."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from cipulse.accounts.service import AccountService
from cipulse.accounts.users import UserService
from cipulse.settings import Settings
from cipulse.storage.database import Database
from tests.servers import threaded_server

ORGANISATION = "acme"


@contextmanager
def served_organisation(
    settings: Settings,
    runs: Iterable[dict[str, Any]],
    email: str,
    password: str,
    *,
    path: str = "/api/v1/ingest",
    prepare: Callable[[Database], None] | None = None,
) -> Iterator[str]:
    """The server's URL once ``acme`` (with a user ``email`` and, when given, what
    ``prepare`` adds) holds ``runs``, each posted to ``path`` with an ingest key."""
    database = Database(settings)
    try:
        accounts = AccountService(database)
        accounts.create_organisation(ORGANISATION)
        key = accounts.create_key(ORGANISATION, scopes=("ingest",)).key
        UserService(database).create_user(email, ORGANISATION, password)
        if prepare is not None:
            prepare(database)
    finally:
        database.dispose()
    with threaded_server(settings) as url:
        for run in runs:
            posted = httpx.post(f"{url}{path}", json=run, headers={"X-API-Key": key})
            assert posted.is_success, posted.text
        yield url
