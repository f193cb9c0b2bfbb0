"""Impossible timings, one rule for every wire format (docs/api.md, "Impossible timings").

CI systems and their reporters send times that cannot all be true: GitHub ends some skipped
jobs before they start (by a second, or by days), and a reporter that subtracts the two
sends a negative duration. Such a run or job is still stored, with what can be trusted of
it: its status and its timestamps, as sent. Only the figure the times contradict (a
duration, a queue time, a run's compute) becomes unknown, never zero, so that duration
figures and compute sums leave it out, and a warning says which field and why. Pure: the
converters call it and put the warnings beside what they convert."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

#: How much longer than its own timestamps a sent duration may be: reporters round, and
#: timestamps often have whole seconds only.
DURATION_SLACK_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class TimingNames:
    """Where a run's or job's timing is in the wire format: the path of the object
    (``jobs[3]``; empty at the top level) and its fields' names there."""

    where: str
    start: str
    end: str
    duration: str | None = None

    def path(self, field: str) -> str:
        return f"{self.where}.{field}" if self.where else field


@dataclass(frozen=True, slots=True)
class Settled:
    """A figure as stored (None: unknown) and, when the times made it so, why."""

    value: float | None
    warning: str | None = None


def shown_number(value: float) -> str:
    """``-1`` for -1.0, ``1.5`` for 1.5: a number as a client would have written it."""
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


def _shown_instant(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def settle_duration(
    names: TimingNames,
    started: datetime | None,
    completed: datetime | None,
    sent: float | None = None,
    what: str = "duration",
) -> Settled:
    """The duration (or queue time, …: ``what``) of something that ran from ``started`` to
    ``completed``, with the one the client ``sent``, if any. It is unknown, with a warning,
    when the end is before the start, when the sent value is negative, or when it is longer
    than the timestamps allow; otherwise the sent value, else the time between the two."""
    reversed_times = started is not None and completed is not None and completed < started
    span = (completed - started).total_seconds() if started and completed else None
    if sent is not None:
        reasons = []
        if sent < 0:
            reasons.append("negative")
        if reversed_times:
            reasons.append(f"{names.end} is before {names.start}")
        elif span is not None and sent > span + DURATION_SLACK_SECONDS:
            reasons.append(
                f"longer than the {shown_number(span)} s from {names.start} to {names.end}"
            )
        if not reasons:
            return Settled(sent)
        field = names.path(names.duration or what)
        return Settled(
            None,
            f"{field}: {shown_number(sent)} is impossible ({'; '.join(reasons)}); "
            "stored as unknown",
        )
    if reversed_times:
        assert started is not None and completed is not None
        return Settled(None, reversed_times_warning(names, started, completed, what))
    return Settled(span)


def reversed_times_warning(
    names: TimingNames, started: datetime, completed: datetime, what: str = "duration"
) -> str:
    """The warning for an end (``completed``) before the start."""
    return (
        f"{names.path(names.end)}: {_shown_instant(completed)} is before {names.start} "
        f"{_shown_instant(started)}; both kept as sent, the {what} stored as unknown"
    )


def settle_compute(
    sent: float | None, known_durations: Sequence[float], impossible: Sequence[str]
) -> Settled:
    """A run's compute: as ``sent``, else the sum of its jobs' ``known_durations`` (unknown
    when there are none). A sent value that is negative, or that came with jobs whose sent
    duration was ``impossible`` (their paths), is not trusted either: the sum replaces it."""
    computed = float(sum(known_durations)) if known_durations else None
    if sent is None:
        return Settled(computed)
    reasons = []
    if sent < 0:
        reasons.append("is negative")
    if impossible:
        reasons.append(f"was sent with impossible job durations ({', '.join(impossible)})")
    if not reasons:
        return Settled(sent)
    instead = (
        "stored as unknown"
        if computed is None
        else f"stored as the sum of the jobs' known durations, {shown_number(computed)}"
    )
    return Settled(
        computed, f"compute_seconds: {shown_number(sent)} {' and '.join(reasons)}; {instead}"
    )
