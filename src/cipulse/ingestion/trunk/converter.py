"""Trunk trackEvents → domain (pure).

Trunk ``trackEvents`` → domain. Pure: no I/O, same input gives the same output.

Events are grouped into runs by ``chainId``. The event whose ``id`` equals its ``chainId``, or
that has no parent, is the run (a ``RunAttempt``); every other event is a node of that run's job
tree (a ``DetachedSpan``), linked to its parent through ``parent.eventId``. A run that has a
parent (a nested pipeline) keeps a link to the parent's chain and event."""

from __future__ import annotations

from datetime import UTC, datetime

from cipulse.domain import changes
from cipulse.domain.changes import Change
from cipulse.domain.ci_statuses import trunk_status
from cipulse.domain.model import (
    DetachedSpan,
    JobSpan,
    PipelineRef,
    RepositoryRef,
    RunAttempt,
    RunKeyScope,
    SourceFormat,
    Submission,
    TagValue,
)
from cipulse.domain.runners import Runner
from cipulse.domain.status import Status
from cipulse.domain.timings import TimingNames, reversed_times_warning
from cipulse.ingestion.trunk.schema import Event, Payload, TrackEventsRequest

#: Pipeline of a run event that names no sequence.
UNNAMED_PIPELINE = PipelineRef(key="(unnamed)", name="(unnamed pipeline)")


def status_of(event: Event) -> Status:
    return trunk_status(event.conclusion, finished=event.finishedAt is not None)


def _millis(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value / 1000, tz=UTC)


#: An event's timing fields.
_TIMES = TimingNames("createdAt", "finishedAt")


def _duration(event: Event, index: int, warnings: list[str]) -> float | None:
    """Unknown (None) when ``finishedAt`` is missing, or before ``createdAt`` (with a
    warning): the spec's own example does that, and such an event must not distort duration
    statistics."""
    if event.finishedAt is None:
        return None
    if event.finishedAt < event.createdAt:
        started, finished = _millis(event.createdAt), _millis(event.finishedAt)
        assert started is not None and finished is not None
        warnings.append(reversed_times_warning(_TIMES, started, finished, where=("events", index)))
        return None
    return (event.finishedAt - event.createdAt) / 1000


def _tags_and_metrics(event: Event) -> tuple[dict[str, TagValue], dict[str, float]]:
    """Sequence tags describe the pipeline or job; event tags describe this execution and win
    on a clash. A key given twice keeps its last value."""
    tags: dict[str, TagValue] = {}
    payloads: list[Payload | None] = [event.sequence.payload if event.sequence else None]
    payloads.append(event.payload)
    for payload in payloads:
        if payload is not None:
            tags.update((tag.k, tag.v) for tag in payload.tags)
    metrics = {m.k: m.v for m in event.payload.metrics} if event.payload else {}
    return tags, metrics


def _kind(event: Event) -> str:
    if event.sequence is None:
        return "job"
    return event.sequence.kind.strip().lower().replace("-", "_").replace(" ", "_")


#: Run tags that name the change (the names of RunWatch's extension fields; ``sha`` too).
_TEXT_TAGS = (
    "commit_message",
    "commit_author",
    "pull_request_title",
    "pull_request_url",
    "pull_request_source_branch",
    "pull_request_target_branch",
)


def _tag_text(tags: dict[str, TagValue], key: str) -> str | None:
    value = tags.get(key)
    return changes.text(value) if isinstance(value, str) else None


def change_of(tags: dict[str, TagValue], index: int, warnings: list[str]) -> Change:
    """The change a run event's tags name, if any: ``sha`` (or ``commit_sha``), the other
    fields by their RunWatch names. (The Jenkins plugin 1.4.0 sends none of them.) A SHA
    that is none, or a ``pull_request_number`` that is not a whole number, is left unknown,
    with a warning."""
    found = {key: _tag_text(tags, key) for key in _TEXT_TAGS}
    sha_tag = "sha" if _tag_text(tags, "sha") else "commit_sha"
    sha = _tag_text(tags, sha_tag)
    warning = changes.sha_warning(f"events[{index}].payload.tags.{sha_tag}", sha)
    if warning:
        warnings.append(warning)
    number = tags.get("pull_request_number")
    if isinstance(number, str) and number.strip().isdigit():
        number = int(number)
    if number is not None and not (isinstance(number, int) and 1 <= number < 2**63):
        warnings.append(
            f"events[{index}].payload.tags.pull_request_number: {number!r} is not a pull "
            "request number; stored as unknown"
        )
        number = None
    return Change(
        commit_sha=changes.commit_sha(sha),
        commit_message=changes.first_line(found["commit_message"]),
        pull_request_number=number,
        event_kind=changes.named_event_kind(_tag_text(tags, "event")),
        **{key: value for key, value in found.items() if key != "commit_message"},
    )


def _run(
    repository: RepositoryRef,
    event: Event,
    status: Status,
    duration: float | None,
    where: tuple[int, list[str]],
) -> RunAttempt:
    """The run of a run event; ``where``: its place in ``events`` and the warnings."""
    tags, metrics = _tags_and_metrics(event)
    sequence = event.sequence
    pipeline = PipelineRef(sequence.key, sequence.name) if sequence else UNNAMED_PIPELINE
    parent = event.parent
    branch = tags.get("branch")
    return RunAttempt(
        repository=repository,
        pipeline=pipeline,
        run_key=event.chainId,
        run_key_scope=RunKeyScope.REPOSITORY,
        attempt=1,
        status=status,
        raw_status=event.conclusion,
        provider=sequence.platform.lower() if sequence else "other",
        source_format=SourceFormat.TRUNK,
        started_at=_millis(event.createdAt),
        completed_at=_millis(event.finishedAt),
        duration_seconds=duration,
        branch=None if branch is None else str(branch),
        root_node_key=event.id,
        parent_run_key=parent.chainId if parent and parent.chainId != event.chainId else None,
        parent_node_key=parent.eventId if parent else None,
        tags=tags,
        metrics=metrics,
        jobs=[],
        jobs_are_snapshot=False,
        change=change_of(tags, *where),
        queue_seconds=queue_of(metrics, f"events[{where[0]}].payload.metrics", where[1]),
    )


def _span(
    event: Event, status: Status, duration: float | None, index: int, warnings: list[str]
) -> JobSpan:
    tags, metrics = _tags_and_metrics(event)
    sequence = event.sequence
    name = sequence.name if sequence else event.id
    return JobSpan(
        node_key=event.id,
        name=name,
        definition_key=sequence.key if sequence else name,
        kind=_kind(event),
        status=status,
        raw_status=event.conclusion,
        started_at=_millis(event.createdAt),
        completed_at=_millis(event.finishedAt),
        duration_seconds=duration,
        parent_node_key=event.parent.eventId if event.parent else None,
        tags=tags,
        metrics=metrics,
        queue_seconds=queue_of(metrics, f"events[{index}].payload.metrics", warnings),
        runner=runner_of(tags),
    )


#: Metrics that say how long an event waited, in milliseconds: the Jenkins plugin's
#: ``init_ms`` (from the build being queued to starting; it sends it for runs), and
#: ``queue_ms``, which other clients may send for any event.
QUEUE_METRICS = ("queue_ms", "init_ms")
#: Tags that name an event's runner: its labels (``runner_labels``, or ``label``, or the
#: ``runner`` tag of the API's own example), its name and its group.
LABEL_TAGS = ("runner_labels", "label", "runner")


def queue_of(metrics: dict[str, float], where: str, warnings: list[str]) -> float | None:
    """Seconds waited, from the first queue metric given; negative ones are unknown."""
    for key in QUEUE_METRICS:
        if key in metrics:
            if metrics[key] < 0:
                warnings.append(f"{where}.{key}: {metrics[key]!r} is negative; queue time unknown")
                return None
            return metrics[key] / 1000
    return None


def runner_of(tags: dict[str, TagValue]) -> Runner:
    labels = next((str(tags[key]) for key in LABEL_TAGS if key in tags), None)
    name, group = tags.get("runner_name"), tags.get("runner_group")
    return Runner.of(
        labels, None if name is None else str(name), None if group is None else str(group)
    )


def is_run_event(event: Event) -> bool:
    return event.id == event.chainId or event.parent is None


def convert(request: TrackEventsRequest, ingest_source: str | None = None) -> Submission:
    repository = RepositoryRef(
        host=request.repo.host.lower(), full_name=f"{request.repo.owner}/{request.repo.name}"
    )
    submission = Submission(ingest_source=ingest_source)
    for index, event in enumerate(request.events):
        status = status_of(event)
        duration = _duration(event, index, submission.warnings)
        if is_run_event(event):
            where = (index, submission.warnings)
            submission.attempts.append(_run(repository, event, status, duration, where))
        else:
            submission.detached_spans.append(
                DetachedSpan(
                    repository=repository,
                    run_key=event.chainId,
                    span=_span(event, status, duration, index, submission.warnings),
                )
            )
    return submission
