"""IngestService: a batch in one transaction, in four named steps.

The ingest service: authenticate, enforce plan limits, write. Both HTTP endpoints and
``cipulse ingest`` call it.

It works on batches: one transaction for many requests (group commit) is what lets SQLite
store thousands of runs a second. Every request in a batch gets its own outcome: a key
that is wrong or a plan limit that is reached fails that request alone.

A batch goes through named steps, in one write transaction (``ingest_batch``): authorise →
plan, enforcing plan limits request by request as the plan is folded → store → record. The
rules of what is written are in ``write_rules.py``; storage only stores."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from sqlalchemy.engine import Connection

from cipulse.domain.keys import KEY_TOUCH_INTERVAL_MS, hash_key
from cipulse.domain.model import Submission
from cipulse.domain.write_plan import ResolvedSubmission, Stored, WritePlan
from cipulse.errors import CipulseError, Forbidden, PlanLimitExceeded, Unauthenticated
from cipulse.ingestion.write_rules import Planner
from cipulse.storage import (
    accounts,
    pull_request_figures,
    retry_round_writer,
    run_writer,
    test_result_store,
    write_marks,
)
from cipulse.storage import webhooks as webhook_store
from cipulse.storage.accounts import Principal
from cipulse.storage.clock import month_of, now_ms
from cipulse.storage.database import Database
from cipulse.storage.dialect import lock_natural_keys
from cipulse.storage.rows import resolve

INGEST_SCOPE = "ingest"


@dataclass(slots=True)
class IngestRequest:
    """One request to store a submission, on behalf of an API key or of an organisation
    (already resolved, for the CLI). A bulk import may hand it ``prepared``: the submission
    already resolved into rows for the principal's organisation, in another process."""

    submission: Submission | None = None
    api_key: str | None = None
    principal: Principal | None = None
    prepared: ResolvedSubmission | None = None
    #: A webhook delivery (provider, delivery id) remembered in the same transaction, so a
    #: redelivery of what was stored is recognised.
    delivery: tuple[str, str] | None = None

    def resolved_for(self, org_id: str, now: int) -> ResolvedSubmission:
        if self.prepared is not None:
            if self.prepared.org_id != org_id:
                raise ValueError("prepared for another organisation")
            return self.prepared
        assert self.submission is not None
        return resolve(org_id, self.submission, now)


@dataclass(slots=True)
class IngestOutcome:
    attempt_ids: list[str] = field(default_factory=list)
    events: int = 0
    #: A webhook delivery stored before (a redelivery): nothing was written.
    duplicate: bool = False


Result = IngestOutcome | CipulseError


class _Accepted(NamedTuple):
    """A request that passed authorisation, resolved for its organisation."""

    position: int  # in the batch
    principal: Principal
    resolved: ResolvedSubmission


@dataclass(slots=True)
class _OrgLimits:
    """Usage of one limited organisation as the batch is folded, request by request."""

    principal: Principal
    repository_ids: set[str]
    runs_this_month: int
    planned_repositories: set[str] = field(default_factory=set)
    planned_runs: int = 0


class IngestService:
    def __init__(self, database: Database) -> None:
        self.database = database

    def ingest_batch(self, requests: list[IngestRequest]) -> list[Result]:
        """Store a batch in one transaction. Errors that concern one request are returned in
        its place; errors of the database (``Unavailable``) are raised for all."""
        now = now_ms()
        results: list[Result | None] = [None] * len(requests)
        with self.database.write() as conn:
            accepted = _authorise(conn, requests, results, now)
            plan = _plan_within_limits(conn, accepted, results, month_of(now))
            created_rounds = _store(conn, plan, now)
            _record(conn, requests, accepted, results, plan, created_rounds, now)
        return [r for r in results if r is not None]


def _authorise(
    conn: Connection, requests: list[IngestRequest], results: list[Result | None], now: int
) -> list[_Accepted]:
    """Step 1: find each request's principal and check it may ingest; a webhook delivery
    stored before is answered as a duplicate. Fills the refused requests' ``results``."""
    hashes = [hash_key(r.api_key) if r.principal is None and r.api_key else None for r in requests]
    known = {h for h in hashes if h is not None}
    principals = accounts.principals_by_hash(conn, sorted(known)) if known else {}
    redelivered = _redelivered(conn, requests)
    accepted: list[_Accepted] = []
    for index, request in enumerate(requests):
        key_hash = hashes[index]
        principal = request.principal or (principals.get(key_hash) if key_hash else None)
        problem = _authorisation_problem(request, principal)
        if problem is not None:
            results[index] = problem
            continue
        assert principal is not None
        if request.delivery is not None:
            seen = (principal.org_id, request.delivery)
            if seen in redelivered:
                results[index] = IngestOutcome(duplicate=True)
                continue
            redelivered.add(seen)  # its copies later in the batch
        accepted.append(_Accepted(index, principal, request.resolved_for(principal.org_id, now)))
    return accepted


def _plan_within_limits(
    conn: Connection, accepted: list[_Accepted], results: list[Result | None], month: str
) -> WritePlan:
    """Steps 2 and 3: lock the runs, then fold the accepted requests, in arrival order, into
    one plan under the write rules, refusing those past their organisation's plan limits."""
    lock_ids = [i for item in accepted for i in item.resolved.lock_ids]
    lock_ids += [item.principal.org_id for item in accepted if item.principal.has_limits]
    lock_natural_keys(conn, lock_ids)
    planner = Planner(*_stored_statuses(conn, accepted))
    limits: dict[str, _OrgLimits] = {}
    for index, principal, resolved in accepted:
        if principal.has_limits:
            exceeded = _limit_problem(
                _org_limits(conn, limits, principal, month), planner, resolved, month
            )
            if exceeded is not None:
                results[index] = exceeded
                continue
        planner.add(resolved)
        results[index] = IngestOutcome(
            attempt_ids=[a.id for a in resolved.attempts],
            events=len(resolved.attempts) + len(resolved.spans),
        )
    return planner.plan


def _store(conn: Connection, plan: WritePlan, now: int) -> dict[str, int]:
    """Step 4: store the plan, each effect a named step, in this order (rows shared by
    concurrent batches are locked in one order). Returns, by organisation, how many attempts
    the retry rounds created besides the plan's."""
    touched = write_marks.touched_partitions(conn, plan)  # read before anything is written
    pull_requests = pull_request_figures.touched_before(conn, plan)
    run_writer.upsert_repositories(conn, plan)
    run_writer.take_default_branches(conn, plan.default_branches, now)
    run_writer.upsert_pipelines(conn, plan)
    run_writer.upsert_attempts(conn, plan)
    test_result_store.attach_waiting_reports(conn, plan)
    run_writer.upsert_jobs(conn, plan)
    rounds = retry_round_writer.derive_runs(conn, plan.retry_round_runs, now)
    run_writer.compute_from_jobs(conn, plan, rounds.attempt_ids)
    write_marks.mark_touched(conn, touched, rounds.partitions, now)
    pull_request_figures.store_touched(conn, plan, pull_requests, rounds.attempt_ids)
    return rounds.created


def _record(
    conn: Connection,
    requests: list[IngestRequest],
    accepted: list[_Accepted],
    results: list[Result | None],
    plan: WritePlan,
    created_rounds: dict[str, int],
    now: int,
) -> None:
    """Step 5: remember the webhook deliveries stored, count the run attempts created (plan
    usage) and note when each API key was last used."""
    _remember_deliveries(conn, requests, accepted, results, now)
    new_runs = dict(created_rounds)
    for row in plan.new_attempts.values():
        new_runs[row["org_id"]] = new_runs.get(row["org_id"], 0) + 1
    if new_runs:
        accounts.add_runs_created(conn, new_runs, month_of(now))
    _touch_api_keys(conn, accepted, now)


def _remember_deliveries(
    conn: Connection,
    requests: list[IngestRequest],
    accepted: list[_Accepted],
    results: list[Result | None],
    now: int,
) -> None:
    deliveries = []
    for index, principal, _ in accepted:
        delivery = requests[index].delivery
        if delivery is not None and isinstance(results[index], IngestOutcome):
            deliveries.append((principal.org_id, *delivery))  # stored: remembered
    if deliveries:
        webhook_store.remember_deliveries(conn, deliveries, now)


def _touch_api_keys(conn: Connection, accepted: list[_Accepted], now: int) -> None:
    """Note the use of the keys not noted for ``KEY_TOUCH_INTERVAL_MS`` (one write a while,
    not one a request)."""
    stale_keys = {
        principal.key_id: principal
        for _, principal, _ in accepted
        if principal.key_id and (principal.last_used_at_ms or 0) < now - KEY_TOUCH_INTERVAL_MS
    }
    if stale_keys:
        accounts.touch_api_keys(conn, list(stale_keys.values()), now)


def _stored_statuses(
    conn: Connection, accepted: list[_Accepted]
) -> tuple[dict[str, Stored], dict[str, Stored]]:
    """What the write rules need to know of what is stored: the status and end of the
    attempts and jobs the batch names."""
    by_org: dict[str, tuple[set[str], set[str], set[str]]] = {}
    for _, principal, resolved in accepted:
        attempt_ids, job_ids, job_attempt_ids = by_org.setdefault(
            principal.org_id, (set(), set(), set())
        )
        attempt_ids.update(a.id for a in resolved.attempts)
        job_ids.update(s.id for s in resolved.spans)
        job_attempt_ids.update(s.attempt_id for s in resolved.spans)
    attempts: dict[str, Stored] = {}
    jobs: dict[str, Stored] = {}
    for org_id, (attempt_ids, job_ids, job_attempt_ids) in by_org.items():
        found_attempts, found_jobs = run_writer.stored_statuses(
            conn, org_id, attempt_ids, job_ids, job_attempt_ids
        )
        attempts.update(found_attempts)
        jobs.update(found_jobs)
    return attempts, jobs


def _org_limits(
    conn: Connection, limits: dict[str, _OrgLimits], principal: Principal, month: str
) -> _OrgLimits:
    """The usage of the principal's organisation, read once per batch."""
    org = limits.get(principal.org_id)
    if org is None:
        org = limits[principal.org_id] = _OrgLimits(
            principal,
            accounts.repository_ids(conn, principal.org_id),
            accounts.runs_created_in_month(conn, principal.org_id, month),
        )
    return org


def _redelivered(
    conn: Connection, requests: list[IngestRequest]
) -> set[tuple[str, tuple[str, str]]]:
    """(org id, delivery) of the webhook deliveries of the batch that were stored before."""
    by_org: dict[str, set[tuple[str, str]]] = {}
    for request in requests:
        if request.delivery is not None and request.principal is not None:
            by_org.setdefault(request.principal.org_id, set()).add(request.delivery)
    return {
        (org_id, delivery)
        for org_id, deliveries in by_org.items()
        for delivery in webhook_store.deliveries_seen(conn, org_id, deliveries)
    }


def _authorisation_problem(
    request: IngestRequest, principal: Principal | None
) -> CipulseError | None:
    if principal is None:
        if request.api_key:
            return Unauthenticated("invalid API key")
        return Unauthenticated("missing API key")
    if principal.revoked:
        return Unauthenticated("API key has been revoked")
    if INGEST_SCOPE not in principal.scopes:
        return Forbidden("API key lacks the 'ingest' scope")
    return None


def _limit_problem(
    org: _OrgLimits,
    planner: Planner,
    resolved: ResolvedSubmission,
    month: str,
) -> PlanLimitExceeded | None:
    """Refuse what would create repositories or run attempts past the organisation's limits.
    Updates of stored attempts create nothing and are never refused."""
    limit = org.principal.max_repositories
    new_repositories = set(resolved.repository_rows) - org.repository_ids - org.planned_repositories
    if limit and new_repositories:
        have = len(org.repository_ids) + len(org.planned_repositories)
        if have + len(new_repositories) > limit:
            return PlanLimitExceeded(
                f"plan limit exceeded: max_repositories is {limit} and the organisation "
                f"already has {have} repositories"
            )
    limit = org.principal.max_runs_per_month
    new_runs = planner.new_attempts_of(resolved)
    if limit and new_runs:
        used = org.runs_this_month + org.planned_runs
        if used + new_runs > limit:
            return PlanLimitExceeded(
                f"plan limit exceeded: max_runs_per_month is {limit} and {used} run attempts "
                f"were already stored in {month} (UTC)"
            )
    org.planned_repositories |= new_repositories
    org.planned_runs += new_runs
    return None
