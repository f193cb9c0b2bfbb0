"""Definitions of test figures and of the flaky test rules, for the docs.

The Tests pages, ``GET /api/v1/analytics/tests`` and ``GET /api/v1/tests/{id}`` answer these
figures (``analytics/questions/tests.py``, ``test_page.py``); the rules are the functions of
``domain/flaky_rules.py``. ``scripts/metrics_reference.py`` writes both into
docs/metrics.md, the constants' values included, so the page cannot drift from the code."""

from __future__ import annotations

from cipulse.analytics.definitions import MetricDefinition
from cipulse.domain.flaky_rules import (
    DEFAULT_CLEAR_AFTER_PASSES,
    DEFAULT_MAX_FLIP_FAILURES,
    DEFAULT_RULES,
    INFRASTRUCTURE_MIN_CASES,
    INFRASTRUCTURE_SHARE,
)
from cipulse.storage.test_reads import DURATION_SAMPLE, MESSAGE_SAMPLE, STREAK_SAMPLE

_SHARE = f"{INFRASTRUCTURE_SHARE:.0%}"

#: A test's figures over a window.
TEST_METRICS: tuple[MetricDefinition, ...] = (
    MetricDefinition(
        "runs (test)",
        "results",
        "The test's results in the reports timed in the UTC days that cover the window "
        "(a result is timed by its run attempt's start, else by when its report arrived), "
        "of any status; a test's tries within a job are one result. The failed results of "
        "an infrastructure-wide failure are not counted (below).",
    ),
    MetricDefinition(
        "failures (test)", "results", "The results that failed or erred, of those runs."
    ),
    MetricDefinition(
        "failure_rate (test)",
        "ratio from 0 to 1",
        "failures / (runs - skipped). Null when every result was skipped.",
    ),
    MetricDefinition(
        "flaky (test)",
        "results",
        "The results that passed after a retry within their job (rule a below), counted "
        "from the daily rollups; rules b and c are applied on the test's page.",
    ),
    MetricDefinition(
        "mean_duration_ms, duration_change (test)",
        "milliseconds, ratio",
        "The mean duration of the results that carry one (a test's tries in a job add up), "
        "from the rollups; `duration_change` is its relative change against the window of "
        "equal length just before (null when that one has none).",
    ),
    MetricDefinition(
        "p50_duration_ms, p95_duration_ms (test)",
        "milliseconds",
        "On one test's page: the nearest-rank 50th and 95th percentile of the durations of "
        f"its newest {DURATION_SAMPLE:,} results of the window (all of them when fewer).",
    ),
    MetricDefinition(
        "first_seen_at, last_failure_at, last_flaky_at (test)",
        "a time",
        "When the test was first received; its newest failed result and its newest result "
        "that passed after a retry in its job, whatever the window (the list shows the day "
        "of each, within the window).",
    ),
    MetricDefinition(
        "messages (test)",
        "results per message",
        f"Among the test's newest {MESSAGE_SAMPLE:,} results of the window, those with a "
        "message, grouped by the exact message and trace (stored once each), most "
        "frequent first.",
    ),
    MetricDefinition(
        "state, started_failing (test)",
        "flaky, broken or passing",
        "`flaky` while a rule of the organisation finds evidence and fewer than "
        "`clear_after_passes` passes in a row follow the newest; else `broken` when its "
        "newest result on its repository's default branch (the one named, else main or "
        "master) failed: `started_failing` is then the first failure of that failing "
        f"streak, with its run and commit (read from the newest {STREAK_SAMPLE:,} results: a "
        "longer streak started at least that early); else `passing`. A new failure is a "
        "broken test whose streak started in the window.",
    ),
    MetricDefinition(
        "infrastructure-wide failure",
        "a report",
        f"A report in which more than {_SHARE} of the tests that ran (skipped ones left out; "
        f"at least {INFRASTRUCTURE_MIN_CASES}) failed or erred is marked "
        "(`test_reports.infrastructure`) when it is received: its results are stored, but "
        "its failed results count neither as runs nor as failures of their tests, which "
        "did not fail each on its own.",
    ),
)

_DEFAULTS = ", ".join(DEFAULT_RULES.rules)

#: The flaky test rules, and their parameters.
TEST_RULES: tuple[MetricDefinition, ...] = (
    MetricDefinition(
        "rule a: retried in the job",
        "evidence per result",
        "A result that passed after failing within the same job (`retries` > 0: "
        "pytest-rerunfailures' reruns, Surefire's `flakyFailure`/`rerunFailure`). Evidence: "
        "that result's run attempt and commit.",
    ),
    MetricDefinition(
        "rule b: same commit",
        "evidence per commit",
        "A result that passed after an earlier failed or erred result of the same test on "
        "the same commit (another attempt, another rerun or another pipeline). Counted once "
        "per commit, at that first pass. Evidence: the passing run attempt and the commit.",
    ),
    MetricDefinition(
        "rule c: flipping on the default branch",
        "evidence per flip",
        "On the repository's default branch, a pass, then at most `max_flip_failures` "
        f"(default {DEFAULT_MAX_FLIP_FAILURES}) failures in a row, then a pass: cipulse does "
        "not see the code, so a change in between is not ruled out; a real break persists "
        "longer. Off by default. Evidence: the passing run attempt and its commit.",
    ),
    MetricDefinition(
        "clear_after_passes",
        "passes",
        "A test stops being flaky once this many passes in a row follow its newest evidence "
        f"(default {DEFAULT_CLEAR_AFTER_PASSES}); new evidence makes it flaky again. The "
        f"rules applied by default: {_DEFAULTS}. `cipulse tests rules set` changes them per "
        "organisation, and `cipulse tests backtest --rule a|b|c --days N` replays one on "
        "the stored results.",
    ),
)
