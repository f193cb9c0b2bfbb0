"""The run answer's ``triage``, as the read API names its fields.

What ``analytics/questions/run_triage.py`` answers, named for the wire; the run page
(``templates/run_triage.html``) shows the same JSON."""

from __future__ import annotations

from typing import Any

from cipulse.analytics.questions.run_answers import TimeSplit
from cipulse.analytics.questions.run_triage import (
    Changes,
    FailingJob,
    JobTiming,
    RunRef,
    Triage,
)
from cipulse.analytics.questions.summary import iso

Json = dict[str, Any]


def triage_json(triage: Triage) -> Json:
    """Whether the attempt turned its branch red, what changed since its previous green
    attempt, its failing jobs and each job's duration beside its usual one."""
    return {
        "on_default_branch": triage.on_default_branch,
        "verdict": triage.verdict.value,
        "turned_red": triage.verdict.value == "turned_red",
        "previous_green": _ref_json(triage.previous_green),
        "changes": _changes_json(triage.changes),
        "failing_jobs": [_failing_json(job) for job in triage.failing_jobs],
        "jobs": [_timing_json(job) for job in triage.jobs],
    }


def _ref_json(ref: RunRef | None) -> Json | None:
    if ref is None:
        return None
    return {
        "id": ref.id,
        "run_key": ref.run_key,
        "run_number": ref.run_number,
        "attempt": ref.attempt,
        "completed_at": iso(ref.completed_at_ms),
        "commit_sha": ref.commit_sha,
    }


def _changes_json(changes: Changes | None) -> Json | None:
    if changes is None:
        return None
    return {
        "runs": changes.runs,
        "commits": [
            {
                "sha": commit.sha,
                "url": commit.url,
                "message": commit.message,
                "author": commit.author,
                "run_id": commit.run_id,
            }
            for commit in changes.commits
        ],
        "more_commits": changes.more_commits,
        "pull_requests": [
            {"number": pull.number, "title": pull.title, "url": pull.url}
            for pull in changes.pull_requests
        ],
        "more_pull_requests": changes.more_pull_requests,
    }


def _failing_json(job: FailingJob) -> Json:
    return {
        "id": job.id,
        "name": job.name,
        "definition_key": job.definition_key,
        "url": job.url,
        "failing_step": job.failing_step,
        "failure_reason": job.failure_reason,
        "failure_class": job.failure_class,
    }


def _timing_json(job: JobTiming) -> Json:
    return {
        "id": job.id,
        "name": job.name,
        "definition_key": job.definition_key,
        "status": job.status,
        "duration_seconds": job.duration_seconds,
        "usual_duration_seconds": job.usual_duration_seconds,
        "usual_sample": job.usual_sample,
        "change": job.change,
    }


def time_split_json(split: TimeSplit) -> dict[str, Any]:
    """A run's time split (the wire names are the fields' of ``run_answers.TimeSplit``)."""
    return {name: getattr(split, name) for name in TimeSplit.__slots__}
