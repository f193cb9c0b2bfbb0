"""Billing rules: a job's billed minutes, its rate, and its cost in money.

What a job costs is its **billed minutes** times the **rate** its runner is priced at, in the
organisation's currency (``domain/money.py``: integer micro-units, never floats).

Billed minutes, per provider (the job's run's ``provider``):

- ``github``: each job's duration rounded up to the whole minute, as GitHub bills (61 s are
  2 minutes, 0 s are 0);
- every other provider (``gitlab`` included): the exact duration in minutes. GitLab's
  compute minutes are ``duration / 60 * cost factor`` with no rounding stated; cipulse folds
  the cost factor into the rate of the runner's label set (docs/metrics.md, "Cost").

A job's cost is ``billed milliseconds * (price + platform charge) / 60,000`` micro-units,
rounded half to even to one micro-unit; a run's cost is the sum of its jobs' costs.

A **rate** prices the minutes of one provider's jobs (or every provider's: ``*``) whose
label set matches a **pattern**: an exact label set (``linux,self-hosted,x64``, written the
one way ``domain/runners.label_set`` writes it) or a pattern with ``*`` standing for any
text (``*gpu*``; ``*`` alone: every known label set). It holds a price per minute and a
per-minute platform charge (GitHub's announced charge for self-hosted runners), and applies
from its **effective day** (UTC) on: of the rates for one provider and pattern, a job takes
the latest whose day is not after the day it started.

Which rate applies to a job, among the patterns that match its label set, in this order:
an exact label set before any pattern; then the pattern with more characters other than
``*`` (``*gpu*`` before ``*``); then a rate for the job's provider before one for ``*``.
A job whose label set is unknown matches no rate, so its cost is unknown (None), never 0."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache

from cipulse.domain.runners import label_set

#: A rate for every provider.
ANY_PROVIDER = "*"
#: The wildcard of a pattern: any text, the empty text included.
WILDCARD = "*"
#: Providers that bill each job rounded up to the whole minute.
ROUNDED_UP = frozenset({"github"})
MINUTE_MS = 60_000
#: Billed minutes are shown to this many decimals (costs are computed from milliseconds).
MINUTE_DECIMALS = Decimal("0.001")


@dataclass(frozen=True, slots=True)
class Rate:
    """A price per minute for one provider's (or ``*``: every provider's) jobs whose label
    set matches ``pattern``, from ``effective`` (a UTC day) on; money in micro-units."""

    provider: str
    pattern: str
    effective: date
    price_micros: int
    platform_micros: int = 0

    @property
    def per_minute_micros(self) -> int:
        return self.price_micros + self.platform_micros

    @property
    def key(self) -> tuple[str, str, date]:
        return (self.provider, self.pattern, self.effective)


def normal_pattern(pattern: str) -> str | None:
    """A pattern as stored: an exact label set normalised (``domain/runners.label_set``), a
    pattern with ``*`` trimmed; None when it is empty."""
    text = pattern.strip()
    if WILDCARD in text:
        return text
    return label_set(text)


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in pattern.split(WILDCARD)), re.DOTALL)


def matches(pattern: str, labels: str | None) -> bool:
    """Whether a job of label set ``labels`` is priced by ``pattern`` (never when unknown)."""
    if labels is None:
        return False
    if WILDCARD not in pattern:
        return pattern == labels
    return _compiled(pattern).fullmatch(labels) is not None


def _precedence(rate: Rate) -> tuple[int, int, int, str, str]:
    exact = WILDCARD not in rate.pattern
    literal = len(rate.pattern.replace(WILDCARD, ""))
    own = rate.provider != ANY_PROVIDER
    return (exact, literal, own, rate.pattern, rate.provider)


def rate_for(rates: Iterable[Rate], provider: str, labels: str | None, day: date) -> Rate | None:
    """The rate a job of ``provider`` on ``labels`` that started on ``day`` is priced at
    (the module's docstring says which); None when no rate matches."""
    in_effect: dict[tuple[str, str], Rate] = {}
    for rate in rates:
        if rate.effective > day or rate.provider not in (provider, ANY_PROVIDER):
            continue
        if not matches(rate.pattern, labels):
            continue
        key = (rate.provider, rate.pattern)
        held = in_effect.get(key)
        if held is None or held.effective < rate.effective:
            in_effect[key] = rate
    return max(in_effect.values(), key=_precedence, default=None)


def billed_ms(provider: str, duration_seconds: float) -> int:
    """A job's billed time in milliseconds: its duration, rounded up to the whole minute for
    the providers that bill so (``ROUNDED_UP``)."""
    ms = max(0, round(duration_seconds * 1000))
    if provider in ROUNDED_UP:
        return -(-ms // MINUTE_MS) * MINUTE_MS
    return ms


def minutes_of(ms: int) -> Decimal:
    """Billed milliseconds as minutes, to the thousandth (for showing; costs use the ms)."""
    return (Decimal(ms) / MINUTE_MS).quantize(MINUTE_DECIMALS)


def cost_micros(ms: int, per_minute_micros: int) -> int:
    """``ms`` billed at ``per_minute_micros`` a minute, rounded half to even to a
    micro-unit: integer arithmetic, exact on any database and any platform."""
    whole, rest = divmod(ms * per_minute_micros, MINUTE_MS)
    if 2 * rest > MINUTE_MS or (2 * rest == MINUTE_MS and whole % 2):
        whole += 1
    return whole


def rounding_rule(provider: str) -> str:
    """How ``provider``'s job durations become billed minutes, in words."""
    if provider in ROUNDED_UP:
        return "each job rounded up to the whole minute"
    return "exact minutes"
