"""The flaky test rules: a test's outcomes in, the evidence they find out.

Pure functions over one test's results in time order (``Outcome``), so the pages, the API
and ``cipulse tests backtest`` apply the same rules. Each rule is documented in
docs/metrics.md (``analytics/definitions.py``, ``TEST_RULES``):

- **a**, retried in the job: the test failed and then passed within one job (a retry
  inside the job: ``retries > 0`` and passed);
- **b**, same commit: the test failed and passed on the same commit, across attempts or
  reruns (each commit with both counts once, at its first pass after a failure);
- **c**, flipping on the default branch: on the default branch, at most
  ``max_flip_failures`` failures in a row between two passes. cipulse does not see the
  code, so "no code change in between" is approximated: a real break persists, a flip
  does not.

A test is flaky from its newest evidence until ``clear_after_passes`` passes in a row
follow it; then it is not, until new evidence."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from cipulse.domain.test_results import TestStatus

RULES = ("a", "b", "c")
#: Passes in a row after its newest evidence after which a test is no longer flaky.
DEFAULT_CLEAR_AFTER_PASSES = 20
#: Rule c: the most failures in a row between two passes that still count as a flip.
DEFAULT_MAX_FLIP_FAILURES = 1
_FAILED = (int(TestStatus.FAILED), int(TestStatus.ERROR))
_PASSED = int(TestStatus.PASSED)


@dataclass(frozen=True, slots=True)
class RuleSettings:
    """An organisation's flaky rules: which apply, and their parameters."""

    rules: tuple[str, ...] = ("a", "b")
    clear_after_passes: int = DEFAULT_CLEAR_AFTER_PASSES
    max_flip_failures: int = DEFAULT_MAX_FLIP_FAILURES


DEFAULT_RULES = RuleSettings()


class Outcome(NamedTuple):
    """One result of a test, as the rules read it."""

    at_ms: int
    status: int
    retries: int
    attempt_id: str | None
    run_key: str
    commit_sha: str | None
    on_default_branch: bool


@dataclass(frozen=True, slots=True)
class Evidence:
    """Why a rule calls a test flaky: the result where it saw it, its run and commit."""

    rule: str
    at_ms: int
    attempt_id: str | None
    run_key: str
    commit_sha: str | None


def _evidence_of(rule: str, outcome: Outcome) -> Evidence:
    return Evidence(rule, outcome.at_ms, outcome.attempt_id, outcome.run_key, outcome.commit_sha)


def retried_in_job(outcomes: Sequence[Outcome]) -> list[Evidence]:
    """Rule a: passed after a retry inside its job."""
    return [_evidence_of("a", o) for o in outcomes if o.status == _PASSED and o.retries > 0]


def same_commit(outcomes: Sequence[Outcome]) -> list[Evidence]:
    """Rule b: a pass after a failure on the same commit (oldest first), once per commit."""
    failed: set[str] = set()
    found: dict[str, Evidence] = {}
    for o in outcomes:
        if o.commit_sha is None:
            continue
        if o.status in _FAILED:
            failed.add(o.commit_sha)
        elif o.status == _PASSED and o.commit_sha in failed and o.commit_sha not in found:
            found[o.commit_sha] = _evidence_of("b", o)
    return sorted(found.values(), key=lambda e: e.at_ms)


def flips(outcomes: Sequence[Outcome], max_failures: int) -> list[Evidence]:
    """Rule c: on the default branch, a pass, at most ``max_failures`` failures, a pass."""
    found: list[Evidence] = []
    passed_before = False
    failing = 0
    for o in (o for o in outcomes if o.on_default_branch):
        if o.status in _FAILED:
            failing += 1
        elif o.status == _PASSED:
            if passed_before and 0 < failing <= max_failures:
                found.append(_evidence_of("c", o))
            passed_before, failing = True, 0
    return found


def evidence(outcomes: Sequence[Outcome], settings: RuleSettings) -> list[Evidence]:
    """Every rule's evidence over outcomes in time order, oldest first."""
    found: list[Evidence] = []
    if "a" in settings.rules:
        found += retried_in_job(outcomes)
    if "b" in settings.rules:
        found += same_commit(outcomes)
    if "c" in settings.rules:
        found += flips(outcomes, settings.max_flip_failures)
    return sorted(found, key=lambda e: (e.at_ms, e.rule))


@dataclass(frozen=True, slots=True)
class FlakyState:
    """Whether a test is flaky now: its newest evidence, and the passes in a row since."""

    flaky: bool
    newest: Evidence | None
    passes_since: int


def flaky_state(outcomes: Sequence[Outcome], settings: RuleSettings) -> FlakyState:
    """Flaky from the newest evidence until ``clear_after_passes`` passes in a row."""
    found = evidence(outcomes, settings)
    if not found:
        return FlakyState(False, None, 0)
    newest = found[-1]
    streak = best = 0
    for o in outcomes:
        if o.at_ms <= newest.at_ms:
            continue
        streak = streak + 1 if o.status == _PASSED else 0 if o.status in _FAILED else streak
        best = max(best, streak)
    return FlakyState(best < settings.clear_after_passes, newest, streak)


def started_failing(outcomes: Sequence[Outcome]) -> Outcome | None:
    """The first failure of the failing streak the default branch ends in (outcomes in
    time order), None when its newest default-branch result is not a failure."""
    first: Outcome | None = None
    for o in outcomes:
        if not o.on_default_branch or o.status not in (*_FAILED, _PASSED):
            continue
        if o.status == _PASSED:
            first = None
        elif first is None:
            first = o
    return first


#: A report where more than this share of its tests that ran failed is an
#: infrastructure-wide failure (with at least ``INFRASTRUCTURE_MIN_CASES`` that ran).
INFRASTRUCTURE_SHARE = 0.8
INFRASTRUCTURE_MIN_CASES = 10


def infrastructure_failure(ran: int, failed: int) -> bool:
    """Whether a report whose ``ran`` tests (skipped ones left out) had ``failed`` failures
    failed as a whole: its failures then say nothing of each test."""
    return ran >= INFRASTRUCTURE_MIN_CASES and failed > INFRASTRUCTURE_SHARE * ran
