"""Constrained field types shared by the wire schemas (the limits).

Constrained field types shared by the wire schemas. The limits keep every value storable
on both databases (index entries, integer widths) and come from ``domain/accepted.py``; docs/api.md
("Accepted values") lists them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    Field,
    Strict,
    StringConstraints,
)

from cipulse.domain.accepted import (
    END_MS,
    MAX_ATTEMPT,
    MAX_METRIC_VALUE,
    MAX_SECONDS,
    instant_problem,
)

#: Keys that identify something and end up in unique indexes (run ids, job ids, event ids).
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=500)]
#: Display names: pipelines, jobs, repositories, branches, actors.
Name = Annotated[str, StringConstraints(min_length=1, max_length=1000)]
OptionalText = Annotated[str, StringConstraints(max_length=1000)]
Url = Annotated[str, StringConstraints(max_length=4096)]
TagKey = Annotated[str, StringConstraints(min_length=1, max_length=200)]
TagText = Annotated[str, StringConstraints(max_length=1000)]
Int64 = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]
#: A JSON number of seconds (not a string, not a boolean).
Seconds = Annotated[float, Strict(), Field(ge=0, le=MAX_SECONDS, allow_inf_nan=False)]
#: Seconds also when sent as a string of digits (GitLab).
LaxSeconds = Annotated[float, Field(ge=0, le=MAX_SECONDS, allow_inf_nan=False)]
#: A duration as a client measured it: negative ones are taken too, to be stored as unknown
#: with a warning (``domain/timings.py``), not refused.
SignedSeconds = Annotated[
    float, Strict(), Field(ge=-MAX_SECONDS, le=MAX_SECONDS, allow_inf_nan=False)
]
#: The same, also when sent as a string of digits (GitLab).
LaxSignedSeconds = Annotated[float, Field(ge=-MAX_SECONDS, le=MAX_SECONDS, allow_inf_nan=False)]
#: A custom metric's value.
MetricValue = Annotated[
    float, Strict(), Field(ge=-MAX_METRIC_VALUE, le=MAX_METRIC_VALUE, allow_inf_nan=False)
]
#: A run attempt's number, and how often a job was retried (GitLab), lax as the formats send.
AttemptNumber = Annotated[int, Field(ge=1, le=MAX_ATTEMPT)]
RetryCount = Annotated[int, Field(ge=0, le=MAX_ATTEMPT - 1)]
#: An id sent as a string or as a JSON integer (never a boolean).
StringOrIntegerId = Annotated[
    Annotated[Identifier, Strict()] | Annotated[Int64, Strict()],
    Field(union_mode="left_to_right"),
]
#: An instant in the accepted range as epoch milliseconds (Trunk).
EpochMillis = Annotated[int, Strict(), Field(ge=0, lt=END_MS)]


def _in_range(moment: datetime) -> datetime:
    problem = instant_problem(moment)
    if problem is not None:
        raise ValueError(problem)
    return moment


#: An instant in the accepted range (a check after any parsing; GitLab parses its own forms).
InRange = AfterValidator(_in_range)
#: An ISO 8601 string with ``Z`` or an offset, in the accepted range; numbers are not taken.
Timestamp = Annotated[AwareDatetime, Strict(), InRange]


def _no_booleans(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError("must be an integer")
    return value


#: An integer, also when sent as a string of digits (``"789012345"``); never a boolean.
LaxInteger = Annotated[int, BeforeValidator(_no_booleans)]
