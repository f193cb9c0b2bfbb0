"""Pull requests on the wire: list rows, one pull request, a summary.

How the pull requests question's answers are named in JSON and CSV (``/api/v1/pull-requests``):
instants as ISO 8601 text in UTC, durations in seconds, unknown figures null."""

from __future__ import annotations

from cipulse.analytics.questions.pull_requests import (
    PERCENTILES,
    SUMMARISED,
    PullRequestDetail,
    PullRequestRow,
    PullRequestSummary,
)
from cipulse.analytics.questions.summary import iso
from cipulse.domain.pull_requests import PullRequestKey
from cipulse.web.cost_presenters import pull_request_cost_json
from cipulse.web.presenters import Json, attempt_json, change_json


def pull_request_id(key: PullRequestKey) -> str:
    """A pull request's id in the API's paths: ``{repository_id}/{number}``."""
    return f"{key.repository_id}/{key.number}"


def pull_request_json(row: PullRequestRow) -> Json:
    """A pull request with its figures (a row of ``/pull-requests``)."""
    figures = row.figures
    return {
        "id": pull_request_id(figures.key),
        "repository_id": figures.key.repository_id,
        "repository": row.repository,
        "repository_host": row.repository_host,
        "number": figures.key.number,
        "title": figures.title,
        "url": figures.url,
        "source_branch": figures.source_branch,
        "target_branch": figures.target_branch,
        "authors": ", ".join(figures.authors),
        "commits": figures.commits,
        "head_commit_sha": figures.head_commit_sha,
        "first_run_at": iso(figures.first_run_at_ms),
        "last_run_at": iso(figures.last_run_at_ms),
        "runs": figures.runs,
        "attempts": figures.attempts,
        "reruns": figures.reruns,
        "ci_seconds": figures.ci_seconds,
        "compute_seconds": figures.compute_seconds,
        "time_to_green_head_seconds": figures.time_to_green_head_seconds,
        "time_to_green_seconds": figures.time_to_green_seconds,
    }


def pull_request_detail_json(detail: PullRequestDetail) -> Json:
    """One pull request (``/pull-requests/{repository_id}/{number}``): its figures, authors
    as a list, its commits (first run first) and a page of its runs, newest first."""
    return {
        **pull_request_json(detail.row),
        "authors": list(detail.row.figures.authors),
        "commit_list": [
            {
                "sha": commit.sha,
                "message": commit.message,
                "author": commit.author,
                "first_run_at": iso(commit.first_run_at_ms),
            }
            for commit in detail.commits
        ],
        "runs_page": {
            "items": [attempt_json(attempt) for attempt in detail.runs.items],
            "next_cursor": detail.runs.next_cursor,
        },
        "cost": None if detail.cost is None else pull_request_cost_json(detail.cost),
    }


def pull_request_summary_json(summary: PullRequestSummary) -> Json:
    """The organisation's pull-request figures (``/pull-requests/summary``)."""
    return {
        "pull_requests": summary.pull_requests,
        **summary.figures,
        "previous": {
            "window": {
                "since": iso(summary.compared_since_ms),
                "until": iso(summary.compared_until_ms),
            },
            "pull_requests": summary.previous_pull_requests,
            **summary.previous,
        },
        "changes": {name: change_json(change) for name, change in summary.changes.items()},
    }


#: The summary's figure names, in order (``ci_seconds_p50``…).
SUMMARY_FIGURES = tuple(f"{name}_p{p}" for name in SUMMARISED for p in PERCENTILES)
