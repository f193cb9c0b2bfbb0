"""pydantic errors → messages naming the field; the 200's warnings.

Turns pydantic validation errors into messages that name the field and the problem,
in the wire format's own field names: ``jobs[2].status: must be one of success, failure, …``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails, PydanticCustomError

from cipulse.errors import InvalidRequest

MAX_LISTED_PROBLEMS = 20
#: A 200 answer lists at most this many warnings, then says how many more there were.
MAX_LISTED_WARNINGS = 20

TIMESTAMP_HINT = "must be an ISO 8601 timestamp with Z or an offset, e.g. 2024-01-15T10:30:00Z"

#: What a field that must match a pattern should look like, by field path.
PATTERN_HINTS = {
    "repository": "must be owner/name (GitLab subgroups: group/subgroup/name), e.g. acme/app",
}

_MESSAGES = {
    "missing": "required",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "string_type": "must be a string",
    "bool_type": "must be true or false",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "list_type": "must be an array",
    "datetime_type": TIMESTAMP_HINT,
    "datetime_parsing": TIMESTAMP_HINT,
    "datetime_from_date_parsing": TIMESTAMP_HINT,
    "timezone_aware": TIMESTAMP_HINT,
    "finite_number": "must be a finite number",
    "too_short": "must not be empty",
    "string_too_short": "must not be empty",
}


def field_error(field: str, message: str) -> PydanticCustomError:
    """An error a model validator raises about one of its fields (the error's location is the
    model; ``field`` is appended to it in the message)."""
    return PydanticCustomError("field_error", message, {"field": field})


#: Tags pydantic puts in an error's location to say which member of a union failed.
_BRANCH_TAGS = {
    "str",
    "int",
    "float",
    "bool",
    "none",
    "constrained-str",
    "constrained-int",
    "constrained-float",
    "literal",
    "json-or-python",
    "lax-or-strict",
}


def _is_branch_tag(part: str) -> bool:
    return part in _BRANCH_TAGS or part.startswith("function-") or "[" in part


def field_path(loc: Sequence[int | str]) -> str:
    """``("jobs", 2, "status")`` → ``jobs[2].status``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif _is_branch_tag(part):
            continue  # which member of a union failed: not a field
        else:
            path += f".{part}" if path else part
    return path or "body"


def describe(error: ErrorDetails) -> str:
    kind = error["type"]
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    if kind in {"literal_error", "enum"}:
        expected = str(ctx.get("expected", "")).replace("'", "").replace(" or ", ", ")
        return f"must be one of {expected}"
    if kind == "json_invalid":
        return f"not valid JSON ({ctx.get('error', 'parse error')})"
    if kind in {"greater_than_equal", "greater_than", "less_than_equal", "less_than"}:
        bound = next(iter(ctx.values()))
        symbol = {
            "greater_than_equal": ">=",
            "greater_than": ">",
            "less_than_equal": "<=",
            "less_than": "<",
        }[kind]
        return f"must be {symbol} {bound}"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters"
    if kind == "too_long":
        return f"must have at most {ctx.get('max_length')} items"
    if kind == "string_pattern_mismatch":
        return str(ctx.get("hint", "has an invalid format"))
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    return _MESSAGES.get(kind, error["msg"][:1].lower() + error["msg"][1:])


def problems_of(exc: ValidationError) -> list[str]:
    """One line per field; a union that failed on every member says what each would need."""
    by_path: dict[str, list[str]] = {}
    for error in exc.errors(include_url=False):
        path = field_path(error["loc"])
        if error["type"] == "string_pattern_mismatch" and path in PATTERN_HINTS:
            error = {**error, "ctx": {"hint": PATTERN_HINTS[path]}}
        if error["type"] == "field_error":
            field = (error.get("ctx") or {})["field"]
            path = f"{path}.{field}" if path != "body" else field
        messages = by_path.setdefault(path, [])
        message = describe(error)
        if message not in messages:
            messages.append(message)
    return [f"{path}: {' or '.join(messages)}" for path, messages in by_path.items()]


def refused(problems: Sequence[str]) -> InvalidRequest:
    """One 400 naming every problem (the first ``MAX_LISTED_PROBLEMS``, then how many more)."""
    listed = list(problems[:MAX_LISTED_PROBLEMS])
    more = len(problems) - len(listed)
    message = "; ".join(listed) + (f"; and {more} more" if more > 0 else "")
    return InvalidRequest(message, list(problems))


def invalid_request(exc: ValidationError) -> InvalidRequest:
    return refused(problems_of(exc))


def listed_warnings(warnings: Sequence[str]) -> list[str]:
    """The warnings a 200 answer lists: the first ``MAX_LISTED_WARNINGS``, then ``and N
    more`` when there were more."""
    listed = list(warnings[:MAX_LISTED_WARNINGS])
    more = len(warnings) - len(listed)
    return listed + ([f"and {more} more"] if more > 0 else [])
