"""The presenters name typed answers as the wire always has: field order, null vs absent."""

from __future__ import annotations

from cipulse.analytics.job_metrics import FlakyJob, JobFigures, PipelineName
from cipulse.analytics.questions.jobs import JobHighlights
from cipulse.analytics.questions.recovery import ListedPeriod, RecoveryAnswer
from cipulse.analytics.questions.summary import WindowBounds
from cipulse.analytics.rankings import FailingJob
from cipulse.web import presenters
from cipulse.web.list_presenters import flaky_job_json, job_highlights_json, job_row_json

JOB = JobFigures(
    pipeline_id="p",
    job="test",
    definition_key="test",
    level="job",
    runs=3,
    by_status={"success": 2, "failure": 1},
    success_rate=2 / 3,
    failure_count=1,
    flaky_count=0,
    failures_passed_on_retry=1,
    p50_duration_seconds=None,
    p95_duration_seconds=None,
    mean_duration_seconds=None,
    total_duration_seconds=0.0,
    exclusive_seconds=0.0,
    mean_queue_seconds=None,
    p50_queue_seconds=None,
    p95_queue_seconds=None,
    total_queue_seconds=None,
)
JOB_FIELDS = [
    *("pipeline_id", "job", "definition_key", "level", "runs", "by_status", "success_rate"),
    *("failure_count", "flaky_count", "failures_passed_on_retry", "failures_by_class"),
    *("p50_duration_seconds",),
    *("p95_duration_seconds", "mean_duration_seconds", "total_duration_seconds"),
    *("exclusive_seconds", "mean_queue_seconds", "p50_queue_seconds", "p95_queue_seconds"),
    "total_queue_seconds",
]


def test_a_job_row_names_its_pipeline_last_and_only_when_it_is_stored() -> None:
    assert list(job_row_json(JOB)) == JOB_FIELDS
    named = JobFigures(**{**_fields(JOB), "names": PipelineName("CI", "acme/app")})
    assert list(job_row_json(named)) == [*JOB_FIELDS, "pipeline", "repository"]
    ranked = JobHighlights(slowest=[], failing=[FailingJob(named, 0)], flaky=[])
    failing = job_highlights_json(ranked)["failing"][0]
    assert list(failing) == [*JOB_FIELDS, "failures_stayed_failed", "pipeline", "repository"]


def test_a_flaky_job_keeps_flaky_rate_as_the_old_name_of_its_ratio() -> None:
    row = FlakyJob("p", PipelineName("CI", "acme/app"), "e2e", "e2e", "job", 2, 8, 0.25, 9.5, 0)
    assert flaky_job_json(row) == {
        "pipeline_id": "p",
        "pipeline": "CI",
        "repository": "acme/app",
        "job": "e2e",
        "definition_key": "e2e",
        "level": "job",
        "flaky_count": 2,
        "runs": 8,
        "flaky_runs_per_execution": 0.25,
        "flaky_rate": 0.25,
        "retry_compute_seconds": 9.5,
        "last_flaky_at": "1970-01-01T00:00:00Z",
    }


def test_a_window_says_whether_it_is_under_way_only_when_answered_with_now() -> None:
    assert list(presenters.window_json(WindowBounds(0, 86_400_000, 1.0))) == [
        "since",
        "until",
        "days",
    ]
    under_way = presenters.window_json(WindowBounds(0, 86_400_000, 1.0, False, 86_400_000))
    assert under_way["partial"] is False and under_way["elapsed_until"] == "1970-01-02T00:00:00Z"


def test_only_a_period_still_red_has_its_red_seconds_at_the_end() -> None:
    ended = ListedPeriod("p", None, None, "main", 0, 1000, 1.0, 1)
    red = ListedPeriod("p", None, None, "main", 0, None, None, 1, red_seconds_at_end=5.0)
    bounds = WindowBounds(0, 86_400_000, 1.0, False, 86_400_000)
    found = presenters.recovery_json(
        RecoveryAnswer(bounds, 1.0, 1, [ended], False, 86_400_000, 1, [red], None, None)
    )
    assert "red_seconds_at_end" not in found["periods"][0]
    assert found["red_at_end"][0]["red_seconds_at_end"] == 5.0
    assert (found["red_now_count"], found["red_now"]) == (None, None)


def _fields(row: JobFigures) -> dict[str, object]:
    return {name: getattr(row, name) for name in JobFigures.__slots__}
