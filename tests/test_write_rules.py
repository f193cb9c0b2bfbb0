"""The write rules (``ingestion/write_rules.py``) on plain values: no database. Each test
states what is stored and what a batch posts, and checks the plan."""

from __future__ import annotations

from datetime import UTC, datetime

from cipulse.domain.model import JobSpan
from cipulse.domain.runners import Runner
from cipulse.domain.status import Status
from cipulse.domain.write_plan import ResolvedAttempt, ResolvedSpan, ResolvedSubmission, Stored
from cipulse.ingestion.write_rules import Planner, attempt_is_ignored, span_is_ignored
from cipulse.storage.dialect import column_names
from cipulse.storage.rows import job_row
from cipulse.storage.schema import jobs

ORG = "org-1"


def attempt(
    attempt_id: str = "a1",
    status: str = "success",
    *,
    end: int | None = 2_000,
    received: int = 100,
    snapshot: bool = True,
    webhooks: bool = False,
    jobs_posted: int = 1,
    source: str = "runwatch",
) -> ResolvedAttempt:
    return ResolvedAttempt(
        id=attempt_id,
        run_lock_id=f"run-of-{attempt_id}",
        status=status,
        row={
            "org_id": ORG,
            "id": attempt_id,
            "completed_at_ms": end,
            "received_at_ms": received,
            "source_format": source,
        },
        job_rows=[(ORG, f"{attempt_id}-job-{n}", attempt_id) for n in range(jobs_posted)],
        jobs_are_snapshot=snapshot,
        from_webhooks=webhooks,
    )


def span(
    job_id: str = "j1",
    status: str = "success",
    *,
    attempt_id: str = "a1",
    end: int | None = 2_000,
    fallback: bool = False,
    webhooks: bool = False,
) -> ResolvedSpan:
    return ResolvedSpan(
        id=job_id,
        attempt_id=attempt_id,
        run_lock_id=f"run-of-{attempt_id}",
        status=status,
        row=(ORG, job_id, attempt_id, status),
        fallback=fallback,
        from_webhooks=webhooks,
        completed_at_ms=end,
    )


def submission(
    *attempts: ResolvedAttempt, spans: tuple[ResolvedSpan, ...] = ()
) -> ResolvedSubmission:
    return ResolvedSubmission(org_id=ORG, attempts=list(attempts), spans=list(spans))


def planner(
    attempts: dict[str, Stored] | None = None, jobs_stored: dict[str, Stored] | None = None
) -> Planner:
    return Planner(attempts or {}, jobs_stored or {})


def test_a_new_attempt_is_inserted_with_its_snapshot() -> None:
    folding = planner()
    posted = attempt(jobs_posted=2)
    folding.add(submission(posted))
    assert folding.plan.new_attempts == {"a1": posted.row}
    assert folding.plan.updated_attempts == {}
    assert folding.plan.replaced_job_sets == {"a1": posted.job_rows}


def test_a_stored_attempt_is_updated_and_its_job_set_replaced() -> None:
    folding = planner({"a1": ("running", None)})
    posted = attempt()
    folding.add(submission(posted))
    assert folding.plan.new_attempts == {}
    assert folding.plan.updated_attempts == {"a1": posted.row}
    assert folding.plan.replaced_job_sets == {"a1": posted.job_rows}


def test_a_post_that_is_no_snapshot_leaves_the_job_set() -> None:
    folding = planner()
    folding.add(submission(attempt(snapshot=False)))
    assert list(folding.plan.new_attempts) == ["a1"]
    assert folding.plan.replaced_job_sets == {}


def test_a_stale_post_changes_nothing() -> None:
    folding = planner({"a1": ("success", 2_000)})
    folding.add(submission(attempt(status="running", end=None)))
    assert folding.plan.new_attempts == folding.plan.updated_attempts == {}
    assert folding.plan.replaced_job_sets == {}


def test_a_finished_post_over_an_unfinished_one_is_written() -> None:
    assert not attempt_is_ignored(("running", None), attempt(status="failure"))
    assert not attempt_is_ignored(None, attempt(status="running"))


def test_a_stale_post_later_in_the_same_batch_changes_nothing() -> None:
    folding = planner()
    finished = attempt(status="success")
    folding.add(submission(finished))
    folding.add(submission(attempt(status="running", end=None)))
    assert folding.plan.new_attempts == {"a1": finished.row}


def test_the_last_word_of_a_batch_keeps_the_first_receipt() -> None:
    folding = planner()
    folding.add(submission(attempt(status="running", end=None, received=100)))
    last = attempt(status="failure", end=3_000, received=900)
    folding.add(submission(last))
    assert folding.plan.new_attempts == {"a1": {**last.row, "received_at_ms": 100}}


def test_webhooks_keep_the_later_end() -> None:
    stored = {"a1": ("success", 5_000)}
    earlier = attempt(status="failure", end=4_000, webhooks=True)
    assert attempt_is_ignored(stored["a1"], earlier)
    assert not attempt_is_ignored(stored["a1"], attempt(status="failure", end=6_000, webhooks=True))
    # The rule is the webhooks': a RunWatch post that ended earlier is the newest word.
    assert not attempt_is_ignored(stored["a1"], attempt(status="failure", end=4_000))
    folding = planner(stored)
    folding.add(submission(earlier))
    assert folding.plan.updated_attempts == {}
    assert folding.plan.compute_from_jobs == set()


def test_an_unknown_end_counts_as_earliest() -> None:
    assert attempt_is_ignored(("success", 5_000), attempt(end=None, webhooks=True))
    assert not attempt_is_ignored(("success", None), attempt(end=1, webhooks=True))


def test_jobs_follow_the_same_rules() -> None:
    assert span_is_ignored(("success", 2_000), span(status="running", end=None))
    assert span_is_ignored(("failure", 5_000), span(end=4_000, webhooks=True))
    assert not span_is_ignored(("failure", 5_000), span(end=4_000))
    assert not span_is_ignored(("running", None), span())
    assert not span_is_ignored(None, span(status="queued"))


def test_a_fallback_job_never_overwrites_a_finished_one() -> None:
    assert span_is_ignored(("cancelled", 2_000), span(status="success", end=9_000, fallback=True))
    assert not span_is_ignored(("running", None), span(status="success", fallback=True))
    folding = planner(jobs_stored={"j1": ("success", 2_000)})
    folding.add(submission(spans=(span(fallback=True, end=3_000), span("j2", fallback=True))))
    assert list(folding.plan.span_rows) == ["j2"]


def test_a_job_posted_twice_in_a_batch_is_written_once_as_last_posted() -> None:
    folding = planner()
    folding.add(submission(spans=(span(status="running", end=None),)))
    last = span(status="success")
    folding.add(submission(spans=(last, span(status="queued", end=None))))
    assert folding.plan.span_rows == {"j1": last.row}


def test_attempts_whose_source_gives_no_compute_sum_it_from_their_jobs() -> None:
    """Webhook and Trunk attempts, and the attempts of nodes posted on their own (only those
    formats post them), take their compute from their jobs; a RunWatch attempt keeps its own."""
    folding = planner()
    folding.add(submission(attempt("a1", webhooks=True, source="github")))
    folding.add(submission(attempt("a2")))
    folding.add(submission(attempt("a5", source="trunk")))
    folding.add(submission(spans=(span("j1", attempt_id="a3", webhooks=True),)))
    folding.add(submission(spans=(span("j2", attempt_id="a4"),)))
    assert folding.plan.compute_from_jobs == {(ORG, "a1"), (ORG, "a3"), (ORG, "a4"), (ORG, "a5")}


def test_new_attempts_count_what_neither_is_stored_nor_planned() -> None:
    folding = planner({"a1": ("running", None)})
    posted = submission(attempt("a1"), attempt("a2"), attempt("a2"), attempt("a3"))
    assert folding.new_attempts_of(posted) == 2
    folding.add(posted)
    assert folding.new_attempts_of(posted) == 0
    assert sorted(folding.plan.new_attempts) == ["a2", "a3"]
    assert list(folding.plan.updated_attempts) == ["a1"]


def test_retry_round_runs_are_derived_when_any_submission_saw_later_rounds() -> None:
    folding = planner()
    first = ResolvedSubmission(org_id=ORG, retry_round_runs={("r1", "7"): True, ("r1", "8"): False})
    second = ResolvedSubmission(org_id=ORG, retry_round_runs={("r1", "7"): False})
    folding.add(first)
    folding.add(second)
    assert folding.plan.retry_round_runs == {(ORG, "r1", "7"): True, (ORG, "r1", "8"): False}


def test_repositories_pipelines_and_default_branches_take_the_last_word() -> None:
    folding = planner()
    folding.add(
        ResolvedSubmission(
            org_id=ORG,
            repository_rows={"r1": (ORG, "r1", "old")},
            pipeline_rows={"p1": (ORG, "p1", "r1", "ci", "CI")},
            default_branches={"r1": "main"},
        )
    )
    folding.add(
        ResolvedSubmission(
            org_id=ORG,
            pipeline_rows={"p1": (ORG, "p1", "r1", "ci", "CI renamed")},
            default_branches={"r1": "trunk"},
        )
    )
    assert folding.plan.repository_rows == {"r1": (ORG, "r1", "old")}
    assert folding.plan.pipeline_rows == {"p1": (ORG, "p1", "r1", "ci", "CI renamed")}
    assert folding.plan.default_branches == {(ORG, "r1"): "trunk"}


def test_a_job_row_is_in_the_jobs_tables_column_order() -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    job = JobSpan(
        node_key="n",
        name="build",
        definition_key="build-def",
        kind="job",
        status=Status.FAILURE,
        raw_status="failed",
        started_at=moment,
        completed_at=moment,
        duration_seconds=1.5,
        url="https://ci.example/1",
        external_id="ext",
        parent_node_key="parent",
        tags={"runner": "linux"},
        metrics={"queue_seconds": 2.0},
        failure_reason="script_failure",
        failing_step="test",
        queue_seconds=2.0,
        runner=Runner.of(["x64", "linux ", "self-hosted", "x64"], "runner-7", "pool", 7),
    )
    row = dict(zip(column_names(jobs), job_row(ORG, "a1", job, "source", 42, 0.5), strict=True))
    assert {k: v for k, v in row.items() if k != "id"} == {
        "org_id": ORG,
        "attempt_id": "a1",
        "node_key": "n",
        "parent_node_key": "parent",
        "definition_key": "build-def",
        "name": "build",
        "kind": "job",
        "status": "failure",
        "raw_status": "failed",
        "started_at_ms": 1767323045000,
        "completed_at_ms": 1767323045000,
        "duration_seconds": 1.5,
        "url": "https://ci.example/1",
        "external_id": "ext",
        "tags": '{"runner":"linux"}',
        "metrics": '{"queue_seconds":2.0}',
        "ingest_source": "source",
        "updated_at_ms": 42,
        "exclusive_seconds": 0.5,
        "failure_reason": "script_failure",
        "failure_class": "code",
        "failing_step": "test",
        "queue_seconds": 2.0,
        "runner_labels": "linux,self-hosted,x64",
        "runner_name": "runner-7",
        "runner_group": "pool",
        "runner_id": "7",
    }
