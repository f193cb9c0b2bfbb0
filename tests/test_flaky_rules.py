"""The flaky test rules as pure functions, on outcomes written out by hand."""

from __future__ import annotations

from cipulse.domain.flaky_rules import (
    Outcome,
    RuleSettings,
    evidence,
    flaky_state,
    flips,
    infrastructure_failure,
    retried_in_job,
    same_commit,
    started_failing,
)

P, F, E, S = 0, 1, 2, 3  # passed, failed, error, skipped


def outcomes(*spec: tuple[int, str, bool] | tuple[int, str, bool, int]) -> list[Outcome]:
    """(status, commit, on the default branch[, retries]) in time order, a minute apart."""
    made = []
    for i, item in enumerate(spec):
        status, commit, default = item[:3]
        retries = item[3] if len(item) == 4 else 0
        made.append(Outcome(i * 60_000, status, retries, f"a{i}", str(i), commit, default))
    return made


def test_rule_a_only_passes_after_a_retry() -> None:
    found = retried_in_job(outcomes((P, "x", True, 1), (F, "x", True, 2), (P, "y", True)))
    assert [(e.rule, e.run_key) for e in found] == [("a", "0")]


def test_rule_b_once_per_commit_at_its_first_pass_after_a_failure() -> None:
    found = same_commit(
        outcomes((P, "x", True), (F, "x", True), (P, "x", False), (P, "x", True), (E, "y", True))
    )
    # x: failed at 1, passed at 2 (counted once); y: erred, never passed.
    assert [(e.run_key, e.commit_sha) for e in found] == [("2", "x")]
    assert same_commit(outcomes((F, "x", True), (P, "y", True))) == []


def test_rule_c_a_short_failing_run_between_passes_on_the_default_branch() -> None:
    history = outcomes(
        (P, "1", True),
        (F, "2", True),
        (F, "9", False),  # another branch: not read
        (P, "3", True),
        (F, "4", True),
        (F, "5", True),
        (P, "6", True),
    )
    assert [e.run_key for e in flips(history, 1)] == ["3"]
    assert [e.run_key for e in flips(history, 2)] == ["3", "6"]
    # A failure first (no pass before it) is no flip.
    assert flips(outcomes((F, "1", True), (P, "2", True)), 1) == []


def test_flaky_until_enough_passes_in_a_row() -> None:
    rules = RuleSettings(("a",), clear_after_passes=3)
    flaky = outcomes((P, "x", True, 1), (P, "x", True), (F, "y", True), (P, "y", True))
    state = flaky_state(flaky, rules)
    assert state.flaky and state.passes_since == 1 and state.newest is not None
    later = [Outcome(10**6 + i, P, 0, None, "n", "z", True) for i in range(2)]
    cleared = flaky_state(flaky + later, rules)
    assert not cleared.flaky and cleared.passes_since == 3
    assert not flaky_state(outcomes((P, "x", True)), rules).flaky


def test_started_failing_is_the_first_failure_of_the_last_streak() -> None:
    history = outcomes(
        (F, "1", True),
        (P, "2", True),
        (P, "3", False),
        (F, "4", True),
        (S, "5", True),
        (E, "6", True),
        (F, "7", False),
    )
    first = started_failing(history)
    # Run 3 failed on the default branch after its last pass; the skip and the other
    # branch's failure neither end nor start the streak.
    assert first is not None and first.run_key == "3"
    assert started_failing(outcomes((F, "1", True), (P, "2", True))) is None


def test_rules_chosen_and_infrastructure_share() -> None:
    history = outcomes((P, "x", True, 1), (F, "y", True), (P, "y", True))
    assert [e.rule for e in evidence(history, RuleSettings(("a", "b")))] == ["a", "b"]
    assert [e.rule for e in evidence(history, RuleSettings(("b",)))] == ["b"]
    assert infrastructure_failure(10, 9) and not infrastructure_failure(10, 8)
    assert not infrastructure_failure(9, 9)  # fewer than 10 ran
