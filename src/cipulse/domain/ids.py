"""Deterministic identifiers derived from natural keys.

The same (organisation, repository, pipeline, run, attempt) always yields the same UUID, so a
retried or duplicated post returns the id it got the first time, and concurrent writers on
several servers converge on one row without reading first."""

from __future__ import annotations

import hashlib
import uuid

from cipulse.domain.model import RepositoryRef, RunKeyScope

_NAMESPACE = uuid.UUID("6f1d3c52-5d0b-4c7e-9a57-0c2b1f0e8a11").bytes


def _derive(*parts: str) -> str:
    """``str(uuid.uuid5(namespace, name))``, computed without building ``UUID`` objects
    (three times faster; this runs for every job of every ingested run)."""
    digest = bytearray(hashlib.sha1(_NAMESPACE + "\x1f".join(parts).encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def repository_id(org_id: str, repository: RepositoryRef) -> str:
    host, name = repository.identity
    return _derive("repository", org_id, host, name)


def pipeline_id(repository_id: str, pipeline_key: str) -> str:
    return _derive("pipeline", repository_id, pipeline_key)


def attempt_id(
    scope: RunKeyScope, repository_id: str, pipeline_id: str, run_key: str, attempt: int
) -> str:
    scope_id = pipeline_id if scope is RunKeyScope.PIPELINE else repository_id
    return _derive("attempt", scope.value, scope_id, run_key, str(attempt))


def chain_attempt_id(repository_id: str, run_key: str, attempt: int = 1) -> str:
    """The attempt a detached span belongs to, known from its repository-scoped run key
    (a Trunk chain, a GitHub or GitLab run id) and attempt alone."""
    return _derive("attempt", RunKeyScope.REPOSITORY.value, repository_id, run_key, str(attempt))


def job_id(attempt_id: str, node_key: str) -> str:
    return _derive("job", attempt_id, node_key)


def run_lock_id(scope_id: str, run_key: str) -> str:
    """What writers of one run lock (its attempts depend on each other: flakiness)."""
    return _derive("run", scope_id, run_key)


def red_period_id(pipeline_id: str, branch: str | None, started_at_ms: int) -> str:
    return _derive("red", pipeline_id, "\x00" if branch is None else branch, str(started_at_ms))


def refresher_lock_id(org_id: str) -> str:
    """What rollup refreshers of one organisation take turns on."""
    return _derive("rollup-refresher", org_id)


def purger_lock_id() -> str:
    """What the one purger of a database holds (``cipulse purge``, the retention thread)."""
    return _derive("purger")


def team_id(org_id: str, team_key: str) -> str:
    """A team, by its name in lower case (``domain/ownership.team_key``)."""
    return _derive("team", org_id, team_key)


def team_rule_id(org_id: str, kind: str, pattern: str) -> str:
    """An explicit team rule, by its kind and pattern in lower case: one rule per pattern."""
    return _derive("team-rule", org_id, kind, pattern.lower())


def _derive_number(*parts: str) -> int:
    """A positive 63-bit integer from a natural key (a BIGINT on both databases), for the
    test tables' ids: eight bytes a row instead of a 36-character UUID. Two keys of one
    organisation share a number with a chance of about n² / 2⁶⁴ (10⁻⁸ for 400,000 tests)."""
    digest = hashlib.sha1("\x1f".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def case_id(repository_id: str, suite: str, class_name: str, name: str, file: str | None) -> int:
    """A test case of a repository, by its identity in the reports."""
    return _derive_number("test", repository_id, suite, class_name, name, file or "\x00")


def failure_message_id(message: str | None, trace: str | None) -> int:
    return _derive_number("test-message", message or "\x00", trace or "\x00")


def junit_report_id(target: str, job_name: str, digest: str) -> int:
    """A report sent for a target (an attempt id, or a run's natural key as sent) and job:
    the same report sent the same way again has the same id."""
    return _derive_number("test-report", target, job_name, digest)


def tests_day_lock_id(org_id: str, day: int) -> str:
    """What writers of one organisation's daily test figures of a day take turns on."""
    return _derive("test-day", org_id, str(day))
