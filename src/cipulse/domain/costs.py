"""Jobs priced: each job's cost, a total, the jobs lacking a rate.

A job is priced by ``domain/billing.py``'s rules at the rate in effect on the day it started
(UTC; the day its attempt started when the job does not say). Its cost is unknown (None),
never 0, when its duration, its start, its label set or a matching rate is unknown, and the
job says which (``missing``). A job that never ran on a runner costs 0: skipped (with no
duration, or 0), or cancelled before it started (neither a start nor a duration). A total
over jobs is unknown as soon as one of them is: a partial sum would read as the whole cost.
**Waste** is the cost of an attempt that failed, was cancelled or timed out, or was
superseded by a later attempt of its run (a retry)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from cipulse.domain.billing import Rate, billed_ms, cost_micros, minutes_of, rate_for

#: Why a job's cost is unknown.
NO_DURATION = "no duration (not finished?)"
NO_START = "no start time"
NO_LABELS = "no runner label set"
NO_RATE = "no rate for its provider and label set on that day"
#: Attempt statuses whose cost is waste.
WASTED_STATUSES = frozenset({"failure", "cancelled", "timed_out"})


@dataclass(frozen=True, slots=True)
class JobToPrice:
    """What pricing needs of a job."""

    id: str
    name: str
    status: str
    labels: str | None
    duration_seconds: float | None
    started_at_ms: int | None


@dataclass(frozen=True, slots=True)
class PricedJob:
    """A job's billed time, the rate it is priced at and its cost (micro-units); ``missing``
    says why the cost is unknown (None: it is known)."""

    id: str
    name: str
    labels: str | None
    billed_ms: int | None
    rate: Rate | None
    cost_micros: int | None
    missing: str | None = None

    @property
    def billed_minutes(self) -> Decimal | None:
        return None if self.billed_ms is None else minutes_of(self.billed_ms)


def day_of(ms: int) -> date:
    return datetime.fromtimestamp(ms / 1000, UTC).date()


def _never_ran(job: JobToPrice) -> bool:
    """Skipped without a duration, or cancelled before it started: no runner minutes."""
    if job.status == "skipped":
        return not job.duration_seconds
    return job.status == "cancelled" and job.duration_seconds is None and not job.started_at_ms


def price_job(
    rates: Sequence[Rate], provider: str, job: JobToPrice, attempt_started_ms: int | None
) -> PricedJob:
    """One job priced (see the module's docstring)."""

    def unknown(billed: int | None, why: str) -> PricedJob:
        return PricedJob(job.id, job.name, job.labels, billed, None, None, why)

    if _never_ran(job):
        return PricedJob(job.id, job.name, job.labels, 0, None, 0)
    if job.duration_seconds is None:
        return unknown(None, NO_DURATION)
    billed = billed_ms(provider, job.duration_seconds)
    started = job.started_at_ms if job.started_at_ms is not None else attempt_started_ms
    if started is None:
        return unknown(billed, NO_START)
    if job.labels is None:
        return unknown(billed, NO_LABELS)
    rate = rate_for(rates, provider, job.labels, day_of(started))
    if rate is None:
        return unknown(billed, NO_RATE)
    return PricedJob(
        job.id, job.name, job.labels, billed, rate, cost_micros(billed, rate.per_minute_micros)
    )


def total_micros(priced: Iterable[PricedJob]) -> int | None:
    """The sum of the jobs' costs; None as soon as one is unknown."""
    total = 0
    for job in priced:
        if job.cost_micros is None:
            return None
        total += job.cost_micros
    return total


def total_billed_ms(priced: Iterable[PricedJob]) -> int | None:
    """The sum of the jobs' billed time; None as soon as one is unknown."""
    total = 0
    for job in priced:
        if job.billed_ms is None:
            return None
        total += job.billed_ms
    return total


def is_waste(status: str, superseded: bool) -> bool:
    """Whether an attempt's cost is waste: it failed, was cancelled or timed out, or a later
    attempt of its run superseded it."""
    return superseded or status in WASTED_STATUSES
