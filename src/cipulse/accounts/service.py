"""Organisations, API keys, plan limits and the first-start bootstrap.

Creating organisations and keys, setting plan limits, and the first-start bootstrap."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

from cipulse.accounts.passwords import hash_password
from cipulse.domain.accepted import key_name_problem
from cipulse.domain.keys import KEY_TOUCH_INTERVAL_MS, generate_key, hash_key
from cipulse.domain.model import API_KEY_SCOPES, ApiKeyInfo, Organisation
from cipulse.errors import (
    Conflict,
    Forbidden,
    InvalidRequest,
    NotFound,
    Unauthenticated,
    Unavailable,
)
from cipulse.storage import accounts as store
from cipulse.storage import users as user_store
from cipulse.storage.accounts import Principal
from cipulse.storage.clock import now_ms
from cipulse.storage.database import Database

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CreatedKey:
    key: str
    prefix: str
    org_name: str
    scopes: tuple[str, ...]


#: The dashboard user the first start creates in the bootstrap organisation.
BOOTSTRAP_EMAIL = "admin@cipulse.local"


@dataclass(frozen=True, slots=True)
class FirstStart:
    """What the first start created, to show once: an ingest key and a dashboard user
    (``password`` is ``None`` in the unlikely case that the user existed already)."""

    key: CreatedKey
    email: str
    password: str | None


def _checked_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidRequest("name: must be 1 to 200 characters")
    return name


def parse_scopes(text: str) -> tuple[str, ...]:
    scopes = tuple(dict.fromkeys(s.strip() for s in text.split(",") if s.strip()))
    unknown = [s for s in scopes if s not in API_KEY_SCOPES]
    if unknown or not scopes:
        raise InvalidRequest(
            f"scope: must be a comma-separated list of {', '.join(API_KEY_SCOPES)} (got {text!r})"
        )
    return scopes


class AccountService:
    def __init__(self, database: Database) -> None:
        self.database = database

    def create_organisation(self, name: str) -> Organisation:
        name = _checked_name(name)
        with self.database.write() as conn:
            organisation = store.create_organisation(conn, name, now_ms())
        if organisation is None:
            raise Conflict(f"organisation {name!r} already exists")
        return organisation

    def organisation(self, name: str) -> Organisation:
        with self.database.read() as conn:
            organisation = store.find_organisation(conn, name)
        if organisation is None:
            raise NotFound(f"org: no organisation named {name!r} (see `cipulse orgs list`)")
        return organisation

    def organisations(self) -> list[Organisation]:
        with self.database.read() as conn:
            return store.list_organisations(conn)

    def set_limits(
        self, name: str, max_repositories: int | None, max_runs_per_month: int | None
    ) -> Organisation:
        """Set plan limits; ``None`` leaves a limit as it is, 0 removes it."""
        organisation = self.organisation(name)
        for field, value in (
            ("max-repositories", max_repositories),
            ("max-runs-per-month", max_runs_per_month),
        ):
            if value is not None and value < 0:
                raise InvalidRequest(f"{field}: must be 0 (no limit) or more")

        def merged(new: int | None, old: int | None) -> int | None:
            if new is None:
                return old
            return new or None

        repositories = merged(max_repositories, organisation.max_repositories)
        runs = merged(max_runs_per_month, organisation.max_runs_per_month)
        with self.database.write() as conn:
            store.set_limits(conn, organisation.id, repositories, runs)
        return self.organisation(name)

    def usage(self, name: str, month: str) -> tuple[int, int]:
        """(repositories, run attempts created in ``month``) of the organisation."""
        organisation = self.organisation(name)
        with self.database.read() as conn:
            return (
                len(store.repository_ids(conn, organisation.id)),
                store.runs_created_in_month(conn, organisation.id, month),
            )

    def create_key(
        self, org_name: str, name: str | None = None, scopes: tuple[str, ...] = ("ingest",)
    ) -> CreatedKey:
        """A new key of the organisation; ``name`` labels it (trimmed; see ``key_name_problem``:
        at most 100 characters, no control characters)."""
        name = (name or "").strip() or None
        problem = key_name_problem(name) if name else None
        if problem:
            raise InvalidRequest(f"name: {problem}")
        organisation = self.organisation(org_name)
        key, prefix = generate_key()
        with self.database.write() as conn:
            store.insert_api_key(
                conn,
                org_id=organisation.id,
                prefix=prefix,
                key_hash=hash_key(key),
                name=name,
                scopes=scopes,
                now_ms=now_ms(),
            )
        return CreatedKey(key=key, prefix=prefix, org_name=organisation.name, scopes=scopes)

    def keys(self, org_name: str | None = None) -> list[ApiKeyInfo]:
        org_id = self.organisation(org_name).id if org_name else None
        with self.database.read() as conn:
            return store.list_api_keys(conn, org_id)

    def revoke_key(self, prefix: str) -> int:
        with self.database.write() as conn:
            revoked = store.revoke_api_keys(conn, prefix.strip(), now_ms())
        if revoked == 0:
            raise NotFound(
                f"prefix: no active key with prefix {prefix!r} (see `cipulse keys list`)"
            )
        return revoked

    def authenticate(self, key: str, scope: str) -> Principal:
        """The principal of an API key that has ``scope``: 401 for a missing, unknown or
        revoked key, 403 for a key without the scope."""
        if not key:
            raise Unauthenticated("missing API key")
        with self.database.read() as conn:
            key_hash = hash_key(key)
            principal = store.principals_by_hash(conn, [key_hash]).get(key_hash)
        if principal is None:
            raise Unauthenticated("invalid API key")
        if principal.revoked:
            raise Unauthenticated("API key has been revoked")
        if scope not in principal.scopes:
            raise Forbidden(f"API key lacks the '{scope}' scope")
        now = now_ms()
        if (principal.last_used_at_ms or 0) < now - KEY_TOUCH_INTERVAL_MS:
            self._touch(principal, now)
        return principal

    def _touch(self, principal: Principal, now: int) -> None:
        """Record the key's use (at most once a minute: the stored time read to authenticate
        says whether it is due). A busy database does not fail the request for it."""
        try:
            with self.database.write() as conn:
                store.touch_api_keys(conn, [principal], now)
        except Unavailable as exc:
            log.debug("last use of key %s not recorded: %s", principal.key_id, exc)

    def bootstrap(self, org_name: str) -> FirstStart | None:
        """On a database with no organisation yet, create ``org_name``, an ingest key and a
        dashboard user ``BOOTSTRAP_EMAIL`` (an admin of it) with a generated password.

        Returns the key and the password to show once, or ``None`` when there was nothing to
        do (the database already has organisations, or another server won the race)."""
        if not org_name:
            return None
        with self.database.write() as conn:
            if store.count_organisations(conn) > 0:
                return None
            now = now_ms()
            organisation = store.create_organisation(conn, org_name, now)
            if organisation is None:
                return None
            key, prefix = generate_key()
            store.insert_api_key(
                conn,
                org_id=organisation.id,
                prefix=prefix,
                key_hash=hash_key(key),
                name="created on first start",
                scopes=("ingest",),
                now_ms=now,
            )
            created = CreatedKey(key=key, prefix=prefix, org_name=org_name, scopes=("ingest",))
            password = secrets.token_urlsafe(12)
            user_id = user_store.insert_user(
                conn, email=BOOTSTRAP_EMAIL, password_hash=hash_password(password), now_ms=now
            )
            if user_id is None:
                return FirstStart(key=created, email=BOOTSTRAP_EMAIL, password=None)
            user_store.add_membership(
                conn, org_id=organisation.id, user_id=user_id, role="admin", now_ms=now
            )
        return FirstStart(key=created, email=BOOTSTRAP_EMAIL, password=password)


def principal_for(organisation: Organisation) -> Principal:
    """Acting as the organisation itself (the CLI's offline import): no key involved."""
    return Principal(
        key_id="",
        org_id=organisation.id,
        scopes=frozenset({"ingest"}),
        revoked=False,
        last_used_at_ms=None,
        max_repositories=organisation.max_repositories,
        max_runs_per_month=organisation.max_runs_per_month,
    )
