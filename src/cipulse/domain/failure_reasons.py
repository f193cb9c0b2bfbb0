"""Why a job or run failed: the source's reason, raw, and its class.

A job or run attempt that did not succeed keeps the reason its source states, as sent
(GitLab's ``failure_reason``, GitHub's conclusion, a Trunk conclusion, a RunWatch client's
``failure_reason``), and one of five classes computed from it (``failure_class``): **code**
(a script or test failed), **infrastructure** (the runner or the CI system failed),
**timeout**, **cancelled**, and **unknown** (a reason not in the table below, kept raw).
The table is docs/metrics.md's "Failure classes", word for word."""

from __future__ import annotations

from enum import StrEnum

from cipulse.domain.status import Status


class FailureClass(StrEnum):
    CODE = "code"
    INFRASTRUCTURE = "infrastructure"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"


_CODE, _INFRA = FailureClass.CODE, FailureClass.INFRASTRUCTURE
_TIMEOUT, _CANCELLED = FailureClass.TIMEOUT, FailureClass.CANCELLED

#: Every raw reason cipulse knows (lower case; sources' letter case is ignored) → its class,
#: with the sources that send it. Any other reason is ``unknown``.
KNOWN_REASONS: dict[str, tuple[FailureClass, str]] = {
    # GitHub conclusions (runs, jobs, steps); Trunk sends the same words in upper case.
    "failure": (_CODE, "GitHub, Trunk, RunWatch"),
    "timed_out": (_TIMEOUT, "GitHub, Trunk, RunWatch"),
    "cancelled": (_CANCELLED, "GitHub, Trunk, RunWatch"),
    "startup_failure": (_INFRA, "GitHub"),
    "stale": (_CANCELLED, "GitHub"),
    # Jenkins results, as a Trunk client may send them.
    "unstable": (_CODE, "Jenkins"),
    "aborted": (_CANCELLED, "Jenkins"),
    "not_built": (_CANCELLED, "Jenkins"),
    # GitLab job statuses that carry no failure_reason.
    "failed": (_CODE, "GitLab"),
    "canceled": (_CANCELLED, "GitLab"),
    "canceling": (_CANCELLED, "GitLab"),
    # GitLab failure_reason (a job's build_failure_reason / failure_reason).
    "script_failure": (_CODE, "GitLab"),
    "unknown_failure": (FailureClass.UNKNOWN, "GitLab"),
    "api_failure": (_INFRA, "GitLab"),
    "runner_system_failure": (_INFRA, "GitLab"),
    "runner_unsupported": (_INFRA, "GitLab"),
    "no_matching_runner": (_INFRA, "GitLab"),
    "scheduler_failure": (_INFRA, "GitLab"),
    "data_integrity_failure": (_INFRA, "GitLab"),
    "archived_failure": (_INFRA, "GitLab"),
    "unmet_prerequisites": (_INFRA, "GitLab"),
    "missing_dependency_failure": (_INFRA, "GitLab"),
    "stale_schedule": (_INFRA, "GitLab"),
    "trace_size_exceeded": (_INFRA, "GitLab"),
    "ci_quota_exceeded": (_INFRA, "GitLab"),
    "builds_disabled": (_INFRA, "GitLab"),
    "job_token_expired": (_INFRA, "GitLab"),
    "stuck_or_timeout_failure": (_TIMEOUT, "GitLab"),
    "job_execution_timeout": (_TIMEOUT, "GitLab"),
    "forward_deployment_failure": (_CODE, "GitLab"),
    "downstream_pipeline_creation_failed": (_CODE, "GitLab"),
    "invalid_bridge_trigger": (_CODE, "GitLab"),
    # RunWatch clients may name these too (docs/api.md).
    "out_of_memory": (_INFRA, "RunWatch"),
    "runner_lost": (_INFRA, "RunWatch"),
    "test_failure": (_CODE, "RunWatch"),
}

#: Statuses that are not a failure: they keep no reason.
_NOT_FAILED = frozenset(
    {Status.SUCCESS, Status.SKIPPED, Status.RUNNING, Status.QUEUED, Status.PENDING}
)


def failure_class(reason: str | None) -> FailureClass | None:
    """The class of a raw reason: from the table, ``unknown`` for any other; None when
    there is no reason (nothing failed, or the source said nothing)."""
    if reason is None:
        return None
    found = KNOWN_REASONS.get(reason.strip().lower())
    return found[0] if found else FailureClass.UNKNOWN


def failure_class_text(reason: str | None) -> str | None:
    """``failure_class`` as stored: its value, a plain string."""
    found = failure_class(reason)
    return None if found is None else found.value


def failure_reason(status: Status, stated: str | None, raw_status: str | None) -> str | None:
    """The reason to keep for a job or run of this status: what the source states
    (``stated``) else its raw status, when it did not succeed; None when it did, was
    skipped, or has not finished."""
    if status in _NOT_FAILED:
        return None
    return _text(stated) or _text(raw_status)


def _text(value: str | None) -> str | None:
    value = value.strip() if value else None
    return value or None
