"""Cost in money on plain values: money as integer micro-units (no float drift), billed
minutes per provider, which rate prices a job (label sets, patterns, providers, effective
days), a job's cost and why it is unknown, the published defaults, and a rate's 400 naming
every bad field. Every expectation is computed by hand in the comment beside it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from cipulse.accounts.rates import checked_currency, parse_rate
from cipulse.domain.billing import (
    Rate,
    billed_ms,
    cost_micros,
    matches,
    minutes_of,
    normal_pattern,
    rate_for,
)
from cipulse.domain.costs import (
    NO_DURATION,
    NO_LABELS,
    NO_RATE,
    NO_START,
    JobToPrice,
    is_waste,
    price_job,
    total_micros,
)
from cipulse.domain.money import money_text, parse_money
from cipulse.domain.published_rates import PUBLISHED_RATES
from cipulse.errors import InvalidRequest

D = date


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


# --- Money ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "micros"),
    [("0.006", 6_000), ("0", 0), ("1", 1_000_000), ("1e-3", 1_000), (" 0.000001 ", 1)],
)
def test_prices_are_read_as_exact_micro_units(text: str, micros: int) -> None:
    assert parse_money(text) == micros


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("-0.001", "must not be negative"),
        ("0.0000001", "at most 6 decimals"),
        ("abc", "must be a number"),
        ("NaN", "finite"),
        ("1001", "at most 1000"),
    ],
)
def test_bad_prices_say_why(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_money(text)


def test_money_is_written_as_text_with_two_decimals_at_least() -> None:
    assert [money_text(m) for m in (6_000, 1_500_000, 0, 123_456_789, None)] == [
        "0.006",
        "1.50",
        "0.00",
        "123.456789",
        None,
    ]


def test_sums_do_not_drift() -> None:
    # Ten jobs of 0.1 each: floats give 0.9999999999999999, micro-units exactly 1.
    assert sum([0.1] * 10) != 1.0
    assert money_text(sum([parse_money("0.1")] * 10)) == "1.00"
    # A million one-minute GitHub jobs at $0.006: exactly $6,000.
    assert money_text(1_000_000 * cost_micros(billed_ms("github", 1.0), 6_000)) == "6000.00"


def test_a_currency_is_an_iso_4217_code() -> None:
    assert checked_currency(" eur ") == "EUR"
    with pytest.raises(InvalidRequest, match="currency: must be an ISO 4217"):
        checked_currency("EURO")
    with pytest.raises(InvalidRequest):
        checked_currency("XXX")  # the "no currency" code is not a currency to bill in


# --- Billed minutes and cost ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "seconds", "expected_ms"),
    [
        ("github", 61, 120_000),  # 1 min 1 s → 2 whole minutes
        ("github", 60, 60_000),
        ("github", 0.4, 60_000),  # 400 ms → 1 minute
        ("github", 0, 0),
        ("gitlab", 61.5, 61_500),  # exact
        ("circleci", 90, 90_000),
        ("github", -3, 0),
    ],
)
def test_billed_time_per_provider(provider: str, seconds: float, expected_ms: int) -> None:
    assert billed_ms(provider, seconds) == expected_ms


def test_cost_is_rounded_half_to_even_to_a_micro_unit() -> None:
    assert cost_micros(120_000, 6_000) == 12_000  # 2 min * 0.006 = 0.012
    assert cost_micros(90_000, 30_000) == 45_000  # 1.5 min * 0.03 = 0.045
    assert cost_micros(1_001, 30_000) == 500  # 500.5 → 500 (even)
    assert cost_micros(1_003, 30_000) == 502  # 501.5 → 502 (even)
    assert cost_micros(1_002, 30_000) == 501  # exact
    assert str(minutes_of(61_500)) == "1.025"


# --- Which rate ------------------------------------------------------------------------------


def test_patterns_are_exact_label_sets_or_have_wildcards() -> None:
    assert normal_pattern("x64, linux,self-hosted") == "linux,self-hosted,x64"
    assert normal_pattern(" *gpu* ") == "*gpu*"
    assert normal_pattern(" , ") is None
    assert matches("linux,self-hosted,x64", "linux,self-hosted,x64")
    assert not matches("linux,self-hosted", "linux,self-hosted,x64")
    assert matches("*gpu*", "gpu,linux,self-hosted,x64")
    assert matches("ubuntu-*", "ubuntu-latest")
    assert not matches("ubuntu-*", "xubuntu-latest")
    assert not matches("ubuntu.*", "ubuntu-latest")  # only * is special
    assert matches("*", "anything")
    assert not matches("*", None)  # an unknown label set matches nothing


CARD = [
    Rate("github", "*", D(1970, 1, 1), 1_000),
    Rate("github", "ubuntu-*", D(1970, 1, 1), 8_000),
    Rate("github", "ubuntu-*", D(2026, 1, 1), 6_000),
    Rate("github", "ubuntu-latest-8-cores", D(1970, 1, 1), 22_000),
    Rate("*", "*gpu*", D(1970, 1, 1), 50_000, 2_000),
    Rate("github", "*gpu*", D(2027, 1, 1), 1),
]


@pytest.mark.parametrize(
    ("provider", "labels", "day", "expected"),
    [
        ("github", "ubuntu-latest", D(2025, 12, 31), 8_000),  # before the change
        ("github", "ubuntu-latest", D(2026, 1, 1), 6_000),  # the change's day
        ("github", "ubuntu-latest-8-cores", D(2026, 6, 1), 22_000),  # exact before a pattern
        ("github", "windows-latest", D(2026, 6, 1), 1_000),  # only * matches
        ("github", "gpu,linux,self-hosted", D(2026, 6, 1), 52_000),  # *gpu* (any provider)
        ("gitlab", "gpu,k8s", D(2026, 6, 1), 52_000),
        ("github", "gpu,linux,self-hosted", D(2027, 1, 1), 1),  # own provider before *
        ("gitlab", "saas-linux-small-amd64", D(2026, 6, 1), None),  # no rate
        ("github", None, D(2026, 6, 1), None),  # unknown label set
        ("github", "ubuntu-latest", D(1969, 12, 31), None),  # before every rate
    ],
)
def test_which_rate_prices_a_job(
    provider: str, labels: str | None, day: date, expected: int | None
) -> None:
    rate = rate_for(CARD, provider, labels, day)
    assert (rate.per_minute_micros if rate else None) == expected


# --- A job's cost ---------------------------------------------------------------------------


def job(**fields: Any) -> JobToPrice:
    base: dict[str, Any] = {
        "id": "j",
        "name": "build",
        "status": "success",
        "labels": "ubuntu-latest",
        "duration_seconds": 61.0,
        "started_at_ms": ms("2026-01-01T00:00:00"),
    }
    return JobToPrice(**{**base, **fields})


def test_a_job_is_priced_on_the_day_it_started() -> None:
    after = price_job(CARD, "github", job(), None)
    assert (after.billed_ms, after.cost_micros, after.missing) == (120_000, 12_000, None)
    before = price_job(CARD, "github", job(started_at_ms=ms("2025-12-31T23:59:59")), None)
    assert before.cost_micros == 16_000  # 2 min * 0.008
    inherited = price_job(CARD, "github", job(started_at_ms=None), ms("2025-12-31T12:00:00"))
    assert inherited.cost_micros == 16_000  # the attempt's day


@pytest.mark.parametrize(
    ("fields", "missing", "billed"),
    [
        ({"duration_seconds": None, "status": "running"}, NO_DURATION, None),
        ({"labels": None}, NO_LABELS, 120_000),
        ({"labels": "macos-14", "started_at_ms": ms("2026-01-01T00:00:00")}, None, 120_000),
        ({"started_at_ms": None}, NO_START, 120_000),
    ],
)
def test_a_cost_is_unknown_and_says_why(
    fields: dict[str, Any], missing: str | None, billed: int | None
) -> None:
    card = [rate for rate in CARD if rate.pattern != "*"]
    priced = price_job(card, "github", job(**fields), None)
    assert priced.billed_ms == billed
    assert priced.cost_micros is None
    assert priced.missing == (missing or NO_RATE)


def test_a_skipped_job_costs_nothing_and_totals_are_all_or_nothing() -> None:
    skipped = price_job([], "github", job(status="skipped", duration_seconds=None), None)
    assert (skipped.cost_micros, skipped.missing) == (0, None)
    never = job(status="cancelled", duration_seconds=None, started_at_ms=None)
    assert price_job([], "github", never, None).cost_micros == 0  # cancelled while queued
    started = job(status="cancelled", duration_seconds=None)
    assert price_job([], "github", started, None).missing == NO_DURATION
    known = price_job(CARD, "github", job(), None)
    unknown = price_job([], "github", job(), None)
    assert total_micros([known, skipped]) == 12_000
    assert total_micros([known, unknown]) is None
    assert total_micros([]) == 0


def test_waste_is_failed_cancelled_timed_out_or_superseded() -> None:
    assert [is_waste(s, False) for s in ("failure", "cancelled", "timed_out", "success")] == [
        True,
        True,
        True,
        False,
    ]
    assert is_waste("success", True)


# --- The published rates --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "labels", "day", "expected"),
    [
        ("github", "ubuntu-latest", D(2025, 12, 31), 8_000),
        ("github", "ubuntu-24.04", D(2026, 1, 1), 6_000),
        ("github", "windows-latest", D(2026, 2, 1), 10_000),
        ("github", "macos-14", D(2025, 6, 1), 80_000),
        ("github", "macos-14", D(2026, 6, 1), 62_000),
        ("github", "linux,self-hosted,x64", D(2026, 6, 1), None),  # the user's own price
        ("gitlab", "saas-linux-small-amd64", D(2026, 6, 1), 10_000),  # factor 1 * $0.01
        ("gitlab", "saas-linux-large-amd64", D(2026, 6, 1), 30_000),  # factor 3
        ("gitlab", "saas-macos-medium-m1", D(2026, 6, 1), 60_000),  # factor 6
        ("gitlab", "docker,linux", D(2026, 6, 1), None),  # a self-managed runner
    ],
)
def test_the_published_rates(provider: str, labels: str, day: date, expected: int | None) -> None:
    rate = rate_for(PUBLISHED_RATES, provider, labels, day)
    assert (rate.per_minute_micros if rate else None) == expected


# --- A rate from what a user typed ----------------------------------------------------------


def test_a_rate_is_read_from_text() -> None:
    rate = parse_rate(" GitHub ", "x64,self-hosted, linux", "0.05", "0.002", "2026-03-01")
    assert rate == Rate("github", "linux,self-hosted,x64", D(2026, 3, 1), 50_000, 2_000)
    assert parse_rate("*", "*gpu*", "1", "", "").effective == D(1970, 1, 1)


def test_every_bad_field_is_named_at_once() -> None:
    with pytest.raises(InvalidRequest) as raised:
        parse_rate("Git Hub!", " ", "-1", "x", "2026-13-01")
    problems = raised.value.problems
    assert [problem.split(":")[0] for problem in problems] == [
        "provider",
        "pattern",
        "effective",
        "price",
        "platform",
    ]
    assert "must not be negative" in problems[3]
