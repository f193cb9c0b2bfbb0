"""Impossible timings: stored as unknown, with a warning; one rule.

Impossible timings, one rule for every wire format (docs/api.md, "Impossible timings").

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
    """The names a wire format gives a run's or job's timing fields, for warnings; where the
    object is (``jobs[3]``) is given with each call."""

    start: str
    end: str
    duration: str | None = None


#: Where the object with the times is in the payload: a path (``workflow_job``; empty at the
#: top level), or an array's name and an index (``("jobs", 3)``, shown ``jobs[3]``), which
#: costs nothing to give for every job when no warning needs it.
Where = str | tuple[str, int]


def shown_number(value: float) -> str:
    """``-1`` for -1.0, ``1.5`` for 1.5: a number as a client would have written it."""
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


def _shown_instant(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _path(where: Where, field: str) -> str:
    if isinstance(where, tuple):
        return f"{where[0]}[{where[1]}].{field}"
    return f"{where}.{field}" if where else field


def settle_duration(
    names: TimingNames,
    started: datetime | None,
    completed: datetime | None,
    sent: float | None,
    warnings: list[str],
    *,
    where: Where = "",
    what: str = "duration",
) -> float | None:
    """The duration (or queue time, …: ``what``) to store for the thing at ``where`` that ran
    from ``started`` to ``completed``, given the one the client ``sent``, if any: the sent
    value, else the time between the two. It is unknown (None), with a warning appended to
    ``warnings``, when the end is before the start, when the sent value is negative, or when
    it is longer than the timestamps allow."""
    if started is not None and completed is not None:
        span = (completed - started).total_seconds()
        if span >= 0 and (sent is None or 0 <= sent <= span + DURATION_SLACK_SECONDS):
            return span if sent is None else sent
    elif sent is None or sent >= 0:
        return sent
    warnings.append(_impossible(names, started, completed, sent, where, what))
    return None


def _impossible(
    names: TimingNames,
    started: datetime | None,
    completed: datetime | None,
    sent: float | None,
    where: Where,
    what: str,
) -> str:
    """Why a timing ``settle_duration`` refused is impossible, naming its field."""
    if sent is None:
        assert started is not None and completed is not None
        return reversed_times_warning(names, started, completed, where=where, what=what)
    reasons = []
    if sent < 0:
        reasons.append("negative")
    if started is not None and completed is not None:
        span = (completed - started).total_seconds()
        if span < 0:
            reasons.append(f"{names.end} is before {names.start}")
        elif sent >= 0:
            reasons.append(
                f"longer than the {shown_number(span)} s from {names.start} to {names.end}"
            )
    field = _path(where, names.duration or what)
    return f"{field}: {shown_number(sent)} is impossible ({'; '.join(reasons)}); stored as unknown"


def reversed_times_warning(
    names: TimingNames,
    started: datetime,
    completed: datetime,
    *,
    where: Where = "",
    what: str = "duration",
) -> str:
    """The warning for an end (``completed``) before the start."""
    return (
        f"{_path(where, names.end)}: {_shown_instant(completed)} is before {names.start} "
        f"{_shown_instant(started)}; both kept as sent, the {what} stored as unknown"
    )


def settle_compute(
    sent: float | None,
    known_durations: Sequence[float],
    impossible: Sequence[str],
    warnings: list[str],
) -> float | None:
    """A run's compute to store: as ``sent``, else the sum of its jobs' ``known_durations``
    (unknown when there are none). A sent value that is negative, or that came with jobs
    whose sent duration was ``impossible`` (their paths), is not trusted either: the sum
    replaces it, with a warning appended to ``warnings``."""
    if sent is not None and sent >= 0 and not impossible:
        return sent
    computed = float(sum(known_durations)) if known_durations else None
    if sent is None:
        return computed
    reasons = []
    if sent < 0:
        reasons.append("is negative")
    if impossible:
        reasons.append(f"was sent with impossible job durations ({', '.join(impossible)})")
    instead = (
        "stored as unknown"
        if computed is None
        else f"stored as the sum of the jobs' known durations, {shown_number(computed)}"
    )
    warnings.append(f"compute_seconds: {shown_number(sent)} {' and '.join(reasons)}; {instead}")
    return computed
