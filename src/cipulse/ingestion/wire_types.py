"""Constrained field types shared by the wire schemas. The limits keep every value storable
on both databases (index entries, integer widths) and are documented in ``docs/api.md``."""

from __future__ import annotations

from typing import Annotated

from pydantic import AwareDatetime, BeforeValidator, Field, Strict, StringConstraints

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
Seconds = Annotated[float, Strict(), Field(ge=0, allow_inf_nan=False)]
#: An id sent as a string or as a JSON integer (never a boolean).
StringOrIntegerId = Annotated[
    Annotated[Identifier, Strict()] | Annotated[Int64, Strict()],
    Field(union_mode="left_to_right"),
]
EpochMillis = Annotated[int, Strict(), Field(ge=0, le=10**14)]
#: An ISO 8601 string with ``Z`` or an offset; numbers are not taken for timestamps.
Timestamp = Annotated[AwareDatetime, Strict()]


def _no_booleans(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError("must be an integer")
    return value


#: An integer, also when sent as a string of digits (``"789012345"``); never a boolean.
LaxInteger = Annotated[int, BeforeValidator(_no_booleans)]
