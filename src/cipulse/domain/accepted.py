"""The accepted ranges: instants, numbers, text, tree depth, key names.

What cipulse accepts: the one definition of each accepted range (instants, numbers, text,
job-tree depth, key names), used by the wire schemas, the read API's parameters, the
dashboard and the CLI alike. docs/api.md ("Accepted values") lists them and says why.

Instants are accepted from the Unix epoch to the end of the year 2199, UTC, after applying
their offset. Every instant is stored as epoch milliseconds; staying two centuries inside
what a datetime can hold (years 1 to 9999) keeps every instant derived from one (a window's
end plus a day, the previous window, week starts, a GitLab start derived from a queue time)
representable, with no special case at either edge."""

from __future__ import annotations

import unicodedata
import uuid
from datetime import UTC, datetime

#: The first accepted instant, and the first one past the range.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
END = datetime(2200, 1, 1, tzinfo=UTC)
EARLIEST_MS = 0
END_MS = 7_258_118_400_000  # END in epoch milliseconds
INSTANT_RANGE = "from 1970-01-01T00:00:00Z to before 2200-01-01T00:00:00Z (UTC)"

#: Durations and compute times, in seconds: at most ~317 years, longer than the instant range,
#: so that every real duration fits and sums of millions of them stay finite.
MAX_SECONDS = 10**10
#: Custom metric values (Trunk): any number up to a quadrillion either way.
MAX_METRIC_VALUE = 1e15
#: Run attempts: 1 to a million (RunWatch ``run_attempt``, GitHub ``run_attempt``, GitLab
#: ``retries_count`` + 1).
MAX_ATTEMPT = 1_000_000
#: Levels of a run's job tree: deeper Trunk events are refused at ingest, and a deeper tree
#: stored by several requests is shown with its deeper nodes under their ancestor at this level.
MAX_TREE_DEPTH = 64
#: API key names (labels): trimmed, at most this many characters, no control characters.
MAX_KEY_NAME_LENGTH = 100

NUL_PROBLEM = "contains a NUL character (\\u0000), which cannot be stored"


def instant_problem(moment: datetime) -> str | None:
    """Why ``moment`` is outside the accepted range (None: it is inside). Comparing aware
    datetimes never overflows, even for year 1 at +14:00 (year 0 in UTC)."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    if EARLIEST <= aware < END:
        return None
    return f"must be {INSTANT_RANGE}"


def millis_problem(ms: int) -> str | None:
    """``instant_problem`` for epoch milliseconds."""
    return None if EARLIEST_MS <= ms < END_MS else f"must be {INSTANT_RANGE}"


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as text (None: it can). Neither PostgreSQL nor SQLite's
    JSON functions take U+0000."""
    return NUL_PROBLEM if "\x00" in value else None


def key_name_problem(name: str) -> str | None:
    """Why an API key name (already trimmed) is refused (None: accepted)."""
    if len(name) > MAX_KEY_NAME_LENGTH:
        return f"must be at most {MAX_KEY_NAME_LENGTH} characters"
    if any(unicodedata.category(c) in {"Cc", "Cs"} for c in name):
        return "must not contain control characters (tabs, line breaks, NUL)"
    return None


def canonical_uuid(text: str) -> str | None:
    """A UUID in any case (and with or without braces or hyphens) as the lower-case, hyphenated
    text ids are stored as; None when ``text`` is no UUID."""
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return None
