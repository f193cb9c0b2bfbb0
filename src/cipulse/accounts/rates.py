"""Rate cards: an organisation's prices per minute and its currency.

An organisation's rate card (``domain/billing.py`` says how it prices a job) and its currency
(``domain/money.py``), as the CLI (``cipulse rates …``), the settings page and the read API
set and read them. Every value is checked before anything is written, and a 400 names every
bad field at once: provider, pattern, price, platform charge, effective day, currency."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from cipulse.accounts.service import AccountService
from cipulse.domain.accepted import text_problem
from cipulse.domain.billing import ANY_PROVIDER, Rate, normal_pattern
from cipulse.domain.money import currency_problem, parse_money
from cipulse.domain.published_rates import PUBLISHED_RATES, SINCE_EVER
from cipulse.errors import InvalidRequest, NotFound
from cipulse.storage import rates as store
from cipulse.storage.clock import now_ms
from cipulse.storage.database import Database

MAX_PATTERN_LENGTH = 500
_PROVIDER = re.compile(r"[a-z0-9][a-z0-9_.-]{0,99}")
#: The last day a rate may take effect on (the accepted instants end before 2200).
LAST_DAY = date(2199, 12, 31)


@dataclass(frozen=True, slots=True)
class RateCard:
    """An organisation's currency and rates (by provider, pattern and effective day)."""

    currency: str
    rates: list[Rate]


def _provider(text: str, problems: list[str]) -> str:
    provider = text.strip().lower()
    if provider != ANY_PROVIDER and not _PROVIDER.fullmatch(provider):
        problems.append(
            "provider: must be github, gitlab, another provider's name (a-z, 0-9, . _ -; "
            f"at most 100 characters) or * for every provider (got {text[:40]!r})"
        )
    return provider


def _pattern(text: str, problems: list[str]) -> str:
    pattern = normal_pattern(text) or ""
    problem = text_problem(text)
    if problem:
        problems.append(f"pattern: {problem}")
    elif not pattern:
        problems.append("pattern: must be a label set such as ubuntu-latest, or *gpu*, or *")
    elif len(pattern) > MAX_PATTERN_LENGTH:
        problems.append(f"pattern: must be at most {MAX_PATTERN_LENGTH} characters")
    return pattern


def _money(field: str, text: str, problems: list[str]) -> int:
    try:
        return parse_money(text if text.strip() else "0")
    except ValueError as error:
        problems.append(f"{field}: {error}")
        return 0


def parse_day(text: str | None) -> date | None:
    """An effective day from ``YYYY-MM-DD``; raises ValueError saying what is wrong."""
    if text is None or not text.strip():
        return None
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"must be a day as YYYY-MM-DD (got {text[:40]!r})") from None
    if not SINCE_EVER <= day <= LAST_DAY:
        raise ValueError(f"must be from {SINCE_EVER} to {LAST_DAY}")
    return day


def _day(text: str | None, problems: list[str]) -> date:
    try:
        return parse_day(text) or SINCE_EVER
    except ValueError as error:
        problems.append(f"effective: {error}")
        return SINCE_EVER


def parse_rate(
    provider: str, pattern: str, price: str, platform: str = "", effective: str | None = None
) -> Rate:
    """A rate from what a user typed; a 400 naming every bad field. Without an effective
    day, the rate applies to every day (from 1970-01-01)."""
    problems: list[str] = []
    rate = Rate(
        provider=_provider(provider, problems),
        pattern=_pattern(pattern, problems),
        effective=_day(effective, problems),
        price_micros=_money("price", price, problems),
        platform_micros=_money("platform", platform, problems),
    )
    if problems:
        raise InvalidRequest("; ".join(problems), problems)
    return rate


def checked_currency(code: str) -> str:
    found = code.strip().upper()
    problem = currency_problem(found)
    if problem:
        raise InvalidRequest(f"currency: {problem}")
    return found


class RateService:
    def __init__(self, database: Database) -> None:
        self.database = database

    def _org_id(self, org_name: str) -> str:
        return AccountService(self.database).organisation(org_name).id

    def card(self, org_id: str) -> RateCard:
        with self.database.read() as conn:
            return RateCard(store.currency(conn, org_id), store.rate_card(conn, org_id))

    def card_of(self, org_name: str) -> RateCard:
        return self.card(self._org_id(org_name))

    def set_rates(self, org_name: str, rates: list[Rate]) -> None:
        """Store checked rates (``parse_rate``), each replacing the one of its key."""
        org_id = self._org_id(org_name)
        with self.database.write() as conn:
            store.put_rates(conn, org_id, rates, now_ms())

    def remove(
        self, org_name: str, provider: str, pattern: str, effective: str | None = None
    ) -> int:
        """Remove a provider's rates for a pattern (of one effective day, or all of them);
        404 when there is none."""
        problems: list[str] = []
        found_provider, found_pattern = _provider(provider, problems), _pattern(pattern, problems)
        try:
            day = parse_day(effective)
        except ValueError as error:
            problems.append(f"effective: {error}")
            day = None
        if problems:
            raise InvalidRequest("; ".join(problems), problems)
        org_id = self._org_id(org_name)
        with self.database.write() as conn:
            removed = store.remove_rates(conn, org_id, found_provider, found_pattern, day)
        if not removed:
            raise NotFound(f"pattern: no {found_provider} rate for {found_pattern!r}")
        return removed

    def set_currency(self, org_name: str, code: str) -> str:
        found = checked_currency(code)
        org_id = self._org_id(org_name)
        with self.database.write() as conn:
            store.set_currency(conn, org_id, found)
        return found

    def load_defaults(self, org_name: str) -> int:
        """Add the published rates (``domain/published_rates.py``), replacing the rates of
        the same provider, pattern and day; the others stay. Returns how many."""
        self.set_rates(org_name, list(PUBLISHED_RATES))
        return len(PUBLISHED_RATES)
