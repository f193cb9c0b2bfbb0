"""Repositories and the default branch an operator names for one.

Repositories of an organisation, and the default branch an operator names for one (the
dashboard's and the read API's ``branches=default`` filter; main and master otherwise)."""

from __future__ import annotations

from cipulse.accounts.service import AccountService
from cipulse.errors import InvalidRequest, NotFound
from cipulse.storage import repositories as store
from cipulse.storage.clock import now_ms
from cipulse.storage.database import Database
from cipulse.storage.repositories import RepositoryRow

MAX_BRANCH_LENGTH = 1000


class RepositoryService:
    def __init__(self, database: Database) -> None:
        self.database = database

    def repositories(self, org_name: str) -> list[RepositoryRow]:
        org_id = AccountService(self.database).organisation(org_name).id
        with self.database.read() as conn:
            return store.list_repositories(conn, org_id)

    def set_default_branch(
        self, org_name: str, full_name: str, branch: str | None
    ) -> list[RepositoryRow]:
        """Name the default branch of the repositories called ``full_name`` (one per code
        host); an empty or None ``branch`` goes back to main and master. Returns them as
        they were before."""
        branch = (branch or "").strip() or None
        if branch is not None and len(branch) > MAX_BRANCH_LENGTH:
            raise InvalidRequest(f"branch: must be at most {MAX_BRANCH_LENGTH} characters")
        org_id = AccountService(self.database).organisation(org_name).id
        with self.database.write() as conn:
            found = store.find_repositories(conn, org_id, full_name)
            if not found:
                raise NotFound(
                    f"repository: no repository named {full_name!r} in {org_name!r} "
                    f"(see `cipulse repos list --org {org_name}`)"
                )
            for repository in found:
                store.set_default_branch(conn, org_id, repository.id, branch, now_ms())
        return found
