"""The ingest rules: resolved submissions in, a WritePlan out (pure).

The rules of the ingest contract: how a batch of resolved submissions becomes the rows to
write. Pure: plain values in (the submissions, in arrival order, and the stored status and end
of the attempts and jobs they name), a ``WritePlan`` out; ``storage/run_writer.py`` stores it.

- **Snapshot.** A RunWatch post is a full snapshot of its attempt: the job set becomes the
  posted one.
- **Stale post.** A post that would take a finished attempt or job back to unfinished changes
  nothing.
- **Later end (webhooks).** Webhook deliveries arrive out of order: one that ends earlier than
  what is stored changes nothing.
- **Fallback job.** A job a webhook only guessed at (``fallback``) never overwrites a
  finished one.
- **Compute from jobs.** A webhook attempt's compute is the sum of its top-level jobs'
  durations: every webhook attempt written, or given a job, has it summed again.
- **Last word.** An attempt posted many times in one batch is written once, as last posted,
  keeping when it was first received.
"""

from __future__ import annotations

from cipulse.domain.compute import DERIVED_FORMATS
from cipulse.domain.status import FINISHED_STATUSES, ended_earlier, is_stale
from cipulse.domain.write_plan import (
    ResolvedAttempt,
    ResolvedSpan,
    ResolvedSubmission,
    Stored,
    WritePlan,
)


def attempt_is_ignored(stored: Stored | None, attempt: ResolvedAttempt) -> bool:
    """Whether a posted attempt changes nothing: a stale post, or a webhook delivery that
    ends earlier than what is stored."""
    if stored is None:
        return False
    incoming = (attempt.status, attempt.row["completed_at_ms"])
    return is_stale(stored[0], attempt.status) or (
        attempt.from_webhooks and ended_earlier(stored, incoming)
    )


def span_is_ignored(stored: Stored | None, span: ResolvedSpan) -> bool:
    """Whether a posted job changes nothing: a stale post, a fallback over a finished job,
    or a webhook delivery that ends earlier than what is stored."""
    if stored is None:
        return False
    return (
        is_stale(stored[0], span.status)
        or (span.fallback and stored[0] in FINISHED_STATUSES)
        or (span.from_webhooks and ended_earlier(stored, (span.status, span.completed_at_ms)))
    )


class Planner:
    """Folds resolved submissions, in arrival order, into one ``WritePlan``, knowing what is
    stored (``attempt_statuses``, ``job_statuses``: by id, those that exist) and what the
    submissions folded so far would store."""

    def __init__(
        self, attempt_statuses: dict[str, Stored], job_statuses: dict[str, Stored]
    ) -> None:
        self._attempts = dict(attempt_statuses)
        self._jobs = dict(job_statuses)
        self._stored = set(attempt_statuses)
        self.plan = WritePlan()

    def new_attempts_of(self, submission: ResolvedSubmission) -> int:
        """How many attempts this submission would create (for plan limits)."""
        return len({a.id for a in submission.attempts if a.id not in self._attempts})

    def add(self, submission: ResolvedSubmission) -> None:
        plan = self.plan
        plan.repository_rows.update(submission.repository_rows)
        plan.pipeline_rows.update(submission.pipeline_rows)
        for (repository_id, run_key), later in submission.retry_round_runs.items():
            run = (submission.org_id, repository_id, run_key)
            plan.retry_round_runs[run] = plan.retry_round_runs.get(run, False) or later
        plan.default_branches.update(
            ((submission.org_id, repository_id), branch)
            for repository_id, branch in submission.default_branches.items()
        )
        for attempt in submission.attempts:
            self._add_attempt(submission.org_id, attempt)
        for span in submission.spans:
            self._add_span(submission.org_id, span)

    def _add_attempt(self, org_id: str, attempt: ResolvedAttempt) -> None:
        if attempt_is_ignored(self._attempts.get(attempt.id), attempt):
            return
        plan = self.plan
        self._attempts[attempt.id] = (attempt.status, attempt.row["completed_at_ms"])
        if attempt.from_webhooks or attempt.row["source_format"] in DERIVED_FORMATS:
            plan.compute_from_jobs.add((org_id, attempt.id))
        target = plan.updated_attempts if attempt.id in self._stored else plan.new_attempts
        previous = target.get(attempt.id)
        target[attempt.id] = (
            attempt.row
            if previous is None
            else {**attempt.row, "received_at_ms": previous["received_at_ms"]}
        )
        if attempt.jobs_are_snapshot:
            plan.replaced_job_sets[attempt.id] = attempt.job_rows

    def _add_span(self, org_id: str, span: ResolvedSpan) -> None:
        if span_is_ignored(self._jobs.get(span.id), span):
            return
        self._jobs[span.id] = (span.status, span.completed_at_ms)
        self.plan.span_rows[span.id] = span.row
        self.plan.compute_from_jobs.add((org_id, span.attempt_id))
