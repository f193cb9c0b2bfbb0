"""A window's cost in money: billed time per part, priced and added up.

A window's cost is priced from *billed parts*: the job executions of one pipeline, one
runner label set and one *rate span* (the UTC days from one effective day of the rate card
to the next, so that one rate is in effect for the whole part; a window usually lies in
one), each execution counted on the day its attempt started, as the runner rollup keeps
them: how many there are, their exact seconds, their minutes rounded up per job, and the
same over the *waste* executions (of attempts that failed, timed out or were cancelled, or
that a retry of their run superseded). Each part is priced as ``domain/billing.py`` prices
a job: billed time by its pipeline's provider's rule (GitHub: the minutes rounded up per
job; every other provider: the exact seconds), at the rate in effect in its span for that
provider and label set, rounded to a micro-unit once per part. A part with no rate (its
label set unknown, or no pattern matching it) is *unpriced*: its billed time is counted as
such, never as 0 money.

Priced totals add up (``add``), so a group's (a team's, a repository's) and a window's are
sums of their parts'. Plain data, integer money; no I/O."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from cipulse.domain.billing import MINUTE_MS, ROUNDED_UP, Rate, cost_micros, rate_for
from cipulse.domain.runner_tallies import UNKNOWN_LABELS


@dataclass(slots=True)
class Billed:
    """The billed time of some executions (one part's, or several parts' of one key)."""

    jobs: int = 0
    job_seconds: float = 0.0
    billable_minutes: int = 0
    waste_job_seconds: float = 0.0
    waste_billable_minutes: int = 0

    def add(self, other: Billed) -> None:
        self.jobs += other.jobs
        self.job_seconds += other.job_seconds
        self.billable_minutes += other.billable_minutes
        self.waste_job_seconds += other.waste_job_seconds
        self.waste_billable_minutes += other.waste_billable_minutes


@dataclass(slots=True)
class Priced:
    """Priced totals (milliseconds billed, micro-units of money): of every execution, and
    of the waste among them; ``unpriced_ms`` the billed time no rate prices."""

    jobs: int = 0
    billed_ms: int = 0
    unpriced_ms: int = 0
    cost_micros: int = 0
    waste_billed_ms: int = 0
    waste_unpriced_ms: int = 0
    waste_micros: int = 0

    def add(self, other: Priced) -> None:
        self.jobs += other.jobs
        self.billed_ms += other.billed_ms
        self.unpriced_ms += other.unpriced_ms
        self.cost_micros += other.cost_micros
        self.waste_billed_ms += other.waste_billed_ms
        self.waste_unpriced_ms += other.waste_unpriced_ms
        self.waste_micros += other.waste_micros

    @property
    def priced_ms(self) -> int:
        return self.billed_ms - self.unpriced_ms

    @property
    def cost(self) -> int | None:
        """The cost of the priced time; None when time was billed and none of it is priced
        (unknown, never 0)."""
        return None if self.unpriced_ms and not self.priced_ms else self.cost_micros

    @property
    def waste(self) -> int | None:
        priced = self.waste_billed_ms - self.waste_unpriced_ms
        return None if self.waste_unpriced_ms and not priced else self.waste_micros


def rate_spans(effective_days: Sequence[int]) -> list[int]:
    """The first days of the rate card's *spans* (epoch days): a span runs from one
    effective day to the next, so no rate starts or ends inside one; the days before the
    first effective day are a span too, which ``span_of`` names by the day before it."""
    return sorted(set(effective_days))


def span_of(day: int, spans: Sequence[int]) -> int:
    """The day that stands for ``day``'s span: its first day (the day before the first
    effective day for the days before it; 0 when there is no rate: one span)."""
    if not spans:
        return 0
    at = bisect_right(spans, day)
    return spans[0] - 1 if at == 0 else spans[at - 1]


def billed_ms(provider: str, seconds: float, rounded_minutes: int) -> int:
    """A part's billed milliseconds by its provider's rule: the minutes rounded up per job
    for those that bill so (``billing.ROUNDED_UP``), the exact seconds for the others."""
    if provider in ROUNDED_UP:
        return rounded_minutes * MINUTE_MS
    return max(0, round(seconds * 1000))


def price_part(rate: Rate | None, provider: str, billed: Billed) -> Priced:
    """One part priced at ``rate`` (None: no rate for it, so unpriced), its time billed by
    ``provider``'s rule."""
    total = billed_ms(provider, billed.job_seconds, billed.billable_minutes)
    waste = billed_ms(provider, billed.waste_job_seconds, billed.waste_billable_minutes)
    if rate is None:
        return Priced(billed.jobs, total, total, 0, waste, waste, 0)
    per_minute = rate.per_minute_micros
    return Priced(
        jobs=billed.jobs,
        billed_ms=total,
        cost_micros=cost_micros(total, per_minute),
        waste_billed_ms=waste,
        waste_micros=cost_micros(waste, per_minute),
    )


def part_rate(rates: Sequence[Rate], provider: str, label_set: str, day: date) -> Rate | None:
    """The rate of a part: its provider, label set (``UNKNOWN_LABELS``: none named, which no
    rate prices) and day, as ``billing.rate_for`` chooses it for a job."""
    labels = None if label_set == UNKNOWN_LABELS else label_set
    return rate_for(rates, provider, labels, day)
