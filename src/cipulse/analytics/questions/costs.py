"""The cost question: a run attempt's or a pull request's cost in money.

Computed raw from the jobs of the attempts asked about (one attempt's, or a pull request's,
at most ``MAX_PRICED_ATTEMPTS``), at the organisation's rates (``domain/billing.py``,
``domain/costs.py``): each job-level job priced (nested stages and steps run inside their
job's time and are not billed again), the total, the waste, and the jobs whose cost is
unknown with the reason. A total is unknown (None), never a partial sum, when any job's cost
is."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from cipulse.domain.billing import Rate, rounding_rule
from cipulse.domain.compute import Node, job_level
from cipulse.domain.costs import (
    JobToPrice,
    PricedJob,
    is_waste,
    price_job,
    total_billed_ms,
    total_micros,
)
from cipulse.domain.pull_requests import PullRequestKey
from cipulse.storage import cost_store
from cipulse.storage import rates as rate_store

#: A pull request's cost is computed raw from at most this many attempts' jobs.
MAX_PRICED_ATTEMPTS = 500
#: The unpriced jobs an answer names (it counts them all).
MAX_NAMED_UNPRICED = 20


@dataclass(frozen=True, slots=True)
class AttemptCost:
    """One attempt's cost (micro-units of ``currency``), its billed time, whether it is
    waste (and so ``waste_micros`` is its cost, else 0) and each job-level job priced."""

    currency: str
    provider: str
    rounding: str
    total_micros: int | None
    billed_ms: int | None
    waste: bool
    superseded: bool
    waste_micros: int | None
    jobs: list[PricedJob]

    @property
    def unpriced(self) -> list[PricedJob]:
        return [job for job in self.jobs if job.missing is not None]


@dataclass(frozen=True, slots=True)
class UnpricedJob:
    attempt_id: str
    name: str
    labels: str | None
    missing: str


@dataclass(frozen=True, slots=True)
class PullRequestCost:
    """A pull request's cost over its attempts, and the waste among them (failed,
    cancelled, timed out or superseded attempts); ``complete`` is False when it has more
    attempts than are priced raw, and then both are unknown."""

    currency: str
    total_micros: int | None
    waste_micros: int | None
    attempts: int
    complete: bool
    unpriced_jobs: int
    unpriced: list[UnpricedJob]


def _job_level_rows(rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    nodes = [Node(row["node_key"], row["parent_node_key"], row["duration_seconds"]) for row in rows]
    level = {node.node_key for node in job_level(nodes)}
    return [row for row in rows if row["node_key"] in level]


def _priced(
    rates: Sequence[Rate], provider: str, started_ms: int | None, rows: Sequence[Mapping[str, Any]]
) -> list[PricedJob]:
    return [
        price_job(
            rates,
            provider,
            JobToPrice(
                id=row["id"],
                name=row["name"],
                status=row["status"],
                labels=row["runner_labels"],
                duration_seconds=row["duration_seconds"],
                started_at_ms=row["started_at_ms"],
            ),
            started_ms,
        )
        for row in _job_level_rows(rows)
    ]


def attempt_cost(
    conn: Connection,
    org_id: str,
    attempt: Mapping[str, Any],
    jobs: Sequence[Mapping[str, Any]],
    superseded: bool,
) -> AttemptCost:
    """The cost of one attempt (its stored row) from its stored job rows."""
    rates = rate_store.rate_card(conn, org_id)
    provider = str(attempt["provider"])
    priced = _priced(rates, provider, attempt["started_at_ms"], jobs)
    total = total_micros(priced)
    waste = is_waste(str(attempt["status"]), superseded)
    return AttemptCost(
        currency=rate_store.currency(conn, org_id),
        provider=provider,
        rounding=rounding_rule(provider),
        total_micros=total,
        billed_ms=total_billed_ms(priced),
        waste=waste,
        superseded=superseded,
        waste_micros=total if waste else 0,
        jobs=priced,
    )


def superseded_ids(attempts: Sequence[Mapping[str, Any]]) -> set[str]:
    """The attempts a later attempt of the same run (pipeline and run key) superseded."""
    latest: dict[tuple[str, str], int] = {}
    for row in attempts:
        key = (str(row["pipeline_id"]), str(row["run_key"]))
        latest[key] = max(latest.get(key, 0), int(row["attempt"]))
    return {
        str(row["id"])
        for row in attempts
        if int(row["attempt"]) < latest[(str(row["pipeline_id"]), str(row["run_key"]))]
    }


def _unknown(currency: str, attempts: int) -> PullRequestCost:
    """More attempts than are priced raw: ``attempts`` says "more than the bound"."""
    return PullRequestCost(currency, None, None, attempts, False, 0, [])


def pull_request_cost(conn: Connection, org_id: str, key: PullRequestKey) -> PullRequestCost:
    """A pull request's cost over its attempts, if it has at most ``MAX_PRICED_ATTEMPTS``."""
    currency = rate_store.currency(conn, org_id)
    attempts = cost_store.pull_request_attempts(conn, org_id, key, MAX_PRICED_ATTEMPTS + 1)
    if len(attempts) > MAX_PRICED_ATTEMPTS:
        return _unknown(currency, len(attempts))
    rates = rate_store.rate_card(conn, org_id)
    jobs_by_attempt: dict[str, list[dict[str, Any]]] = {}
    for row in cost_store.jobs_to_price(conn, org_id, [str(row["id"]) for row in attempts]):
        jobs_by_attempt.setdefault(str(row["attempt_id"]), []).append(row)
    superseded = superseded_ids(attempts)
    total: int | None = 0
    waste: int | None = 0
    unpriced: list[UnpricedJob] = []
    for attempt in attempts:
        attempt_id = str(attempt["id"])
        own_jobs = jobs_by_attempt.get(attempt_id, [])
        priced = _priced(rates, str(attempt["provider"]), attempt["started_at_ms"], own_jobs)
        cost = total_micros(priced)
        unpriced += [
            UnpricedJob(attempt_id, job.name, job.labels, job.missing)
            for job in priced
            if job.missing is not None
        ]
        total = None if total is None or cost is None else total + cost
        if is_waste(str(attempt["status"]), attempt_id in superseded):
            waste = None if waste is None or cost is None else waste + cost
    return PullRequestCost(
        currency=currency,
        total_micros=total,
        waste_micros=waste,
        attempts=len(attempts),
        complete=True,
        unpriced_jobs=len(unpriced),
        unpriced=unpriced[:MAX_NAMED_UNPRICED],
    )
