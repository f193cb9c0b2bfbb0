"""Repositories and organisations deleted for good, in batches.

Deleting repositories and organisations, for good (`cipulse repos delete`, `cipulse orgs
delete`, the settings page).

Both delete in short batches (``storage/deletion.py``), resting as long as each took, so
servers go on ingesting meanwhile, and hold the organisation's refresher lock throughout, so
no rollup refresh stores rows of what is being deleted. A repository takes its pipelines,
runs, jobs and every rollup row of its pipelines with it, and its test reports, results,
test cases and their daily rows (failure messages, shared by the organisation's
repositories, stay); the organisation-wide rows of the
days it had runs on are then marked for the refresher, which adds them up again without it.
An organisation takes every row with its id, in every table; its users stay (they may belong
to other organisations)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from cipulse.accounts.service import AccountService
from cipulse.errors import InvalidRequest, NotFound
from cipulse.storage import deletion as store
from cipulse.storage import repositories as repository_store
from cipulse.storage import users as user_store
from cipulse.storage.clock import now_ms
from cipulse.storage.database import Database
from cipulse.storage.repositories import RepositoryRow

#: A deletion rests this many times as long as each batch took.
REST = 1.0


def sleeping_rest(seconds: float) -> None:
    time.sleep(seconds * REST)


@dataclass(frozen=True, slots=True)
class DeletedRepositories:
    names: list[str]
    attempts: int


@dataclass(slots=True)
class DeletedOrganisation:
    name: str
    rows: dict[str, int] = field(default_factory=dict)  # per table
    users_left_without_organisation: list[str] = field(default_factory=list)


class DeletionService:
    def __init__(self, database: Database, rest: store.Rest = sleeping_rest) -> None:
        self.database = database
        self.rest = rest

    # --- Repositories -------------------------------------------------------------------

    def find_repository(
        self, org_name: str, full_name: str, host: str | None = None
    ) -> tuple[str, RepositoryRow]:
        """The organisation's id and its repository called ``full_name`` (on ``host``, which
        must be given when there is one of that name on several code hosts)."""
        org_id = AccountService(self.database).organisation(org_name).id
        with self.database.read() as conn:
            found = repository_store.find_repositories(conn, org_id, full_name)
        if host is not None:
            found = [r for r in found if r.host.lower() == host.strip().lower()]
        if not found:
            where = f" on {host}" if host else ""
            raise NotFound(
                f"repository: no repository named {full_name!r}{where} in {org_name!r} "
                f"(see `cipulse repos list --org {org_name}`)"
            )
        if len(found) > 1:
            hosts = ", ".join(sorted(r.host for r in found))
            raise InvalidRequest(
                f"host: {full_name} is on several code hosts ({hosts}); name one with --host"
            )
        return org_id, found[0]

    def repository(self, org_id: str, repository_id: str) -> RepositoryRow:
        with self.database.read() as conn:
            for row in repository_store.list_repositories(conn, org_id):
                if row.id == repository_id:
                    return row
        raise NotFound("repository: no such repository in this organisation")

    def delete_repository(self, org_id: str, repository: RepositoryRow) -> DeletedRepositories:
        """Delete the repository with everything of its own (see the module docstring)."""
        with self.database.refresher_lock(org_id, wait=True):
            with self.database.read() as conn:
                pipeline_ids = store.pipelines_of(conn, org_id, [repository.id])
                days = store.days_of(conn, org_id, pipeline_ids) if pipeline_ids else set()
            attempts = 0
            if pipeline_ids:
                attempts = store.delete_runs(self.database, self.rest, org_id, pipeline_ids)
            store.delete_test_results(self.database, self.rest, org_id, repository.id)
            with self.database.write() as conn:
                store.forget_repositories(
                    conn, org_id, [repository.id], pipeline_ids, days, now_ms()
                )
        return DeletedRepositories([repository.full_name], attempts)

    # --- Organisations ------------------------------------------------------------------

    def delete_organisation(self, name: str) -> DeletedOrganisation:
        """Delete the organisation and every row of it: first what lets anyone in (keys,
        webhook secrets, memberships, sessions), so ingest and the dashboard stop at once;
        then the rest; then the organisation itself."""
        organisation = AccountService(self.database).organisation(name)
        org_id = organisation.id
        with self.database.read() as conn:
            members = [m.email for m in user_store.list_members(conn, org_id)]
        with self.database.write() as conn:
            closed = store.close_organisation(conn, org_id)
        with self.database.refresher_lock(org_id, wait=True):
            rows = store.delete_organisation(self.database, self.rest, org_id)
        for table, count in closed.items():
            rows[table] = rows.get(table, 0) + count
        with self.database.read() as conn:
            alone = [e for e in members if not user_store.organisations_of_email(conn, e)]
        return DeletedOrganisation(organisation.name, rows, alone)
