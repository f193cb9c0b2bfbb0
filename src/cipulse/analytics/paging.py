"""Pages of the analytics lists: one limit, one opaque cursor scheme.

Every list of the read API and the dashboard is read a page at a time: a sort order, a limit
(``DEFAULT_LIMIT``, at most ``MAX_PAGE``) and an opaque cursor. A cursor is base64 of two
fields joined by ``:``, read by one decoder: ``offset:N`` (the position in a list of figures,
which is computed whole) or ``started_at_ms:id`` (a keyset position in the run attempts, which
are read a page at a time). One that this API did not return is a 400 (``cursor: ...``)."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, TypeVar

from cipulse.domain.accepted import canonical_uuid
from cipulse.errors import InvalidRequest

#: The most rows of one page (of a list, of each list of the recovery answer).
MAX_PAGE = 1000
#: The rows of a page when the request names no limit.
DEFAULT_LIMIT = 100


@dataclass(frozen=True, slots=True)
class PageRequest:
    """``sort``: a field of the listed rows, ``-`` first for descending (None: the list's
    own order)."""

    limit: int = DEFAULT_LIMIT
    cursor: str | None = None
    sort: str | None = None


DEFAULT_PAGE = PageRequest()


Item = TypeVar("Item")
#: A listed row: a typed row with ``sort_value``, or a mapping of its fields.
Listed = TypeVar("Listed")
#: A stored run attempt as the store returns it (``keyset_page``'s rows).
StoredRow = Mapping[str, Any]


class Page(NamedTuple, Generic[Item]):
    """One page of a list and the cursor of the next (None: the last page)."""

    items: list[Item]
    next_cursor: str | None


#: The one error of every cursor that is not one this API returned.
BAD_CURSOR = "cursor: not a cursor this API returned"
_INTEGER = re.compile(r"-?[0-9]{1,19}")
_BIGINT = (-(2**63), 2**63 - 1)
_OFFSET = "offset"


def _encode(first: object, second: object) -> str:
    return base64.urlsafe_b64encode(f"{first}:{second}".encode()).decode()


def _decode(cursor: str) -> tuple[str, str]:
    """A cursor's two fields."""
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequest(BAD_CURSOR) from None
    first, separator, second = text.partition(":")
    if not separator:
        raise InvalidRequest(BAD_CURSOR)
    return first, second


def _integer(text: str, low: int, high: int) -> int:
    if not _INTEGER.fullmatch(text) or not low <= int(text) <= high:
        raise InvalidRequest(BAD_CURSOR)
    return int(text)


def check_limit(limit: int, low: int = 1) -> int:
    """``limit`` if it is from ``low`` to ``MAX_PAGE``, else a 400 naming the range."""
    if not low <= limit <= MAX_PAGE:
        raise InvalidRequest(f"limit: must be from {low} to {MAX_PAGE}")
    return limit


def check_sort(sort: str | None, fields: Sequence[str]) -> None:
    if sort is not None and sort.removeprefix("-") not in fields:
        raise InvalidRequest(
            "sort: must be one of " + ", ".join(fields) + " (prefix - for descending)"
        )


def sort_value(row: Any, field: str) -> Any:
    """What a row is ordered by for ``field``: a typed row's ``sort_value``, or a mapping's
    field (None: the row has none)."""
    return row.get(field) if isinstance(row, Mapping) else row.sort_value(field)


def ordered(rows: list[Listed], sort: str | None) -> list[Listed]:
    """Rows by ``sort`` (empty values last either way), ties in their given order."""
    if not sort:
        return rows
    field = sort.removeprefix("-")
    keyed = [(sort_value(row, field), row) for row in rows]
    present = [(value, row) for value, row in keyed if value is not None]
    missing = [row for value, row in keyed if value is None]
    present.sort(key=lambda item: item[0], reverse=sort.startswith("-"))
    return [row for _, row in present] + missing


def page_range(page: PageRequest) -> tuple[int, int]:
    """The positions ``[start, end)`` of the page in the whole list."""
    check_limit(page.limit)
    if not page.cursor:
        return 0, page.limit
    kind, position = _decode(page.cursor)
    if kind != _OFFSET:
        raise InvalidRequest(BAD_CURSOR)
    offset = _integer(position, 0, _BIGINT[1])
    return offset, offset + page.limit


def cursor_after(end: int, total: int) -> str | None:
    """The cursor of the page starting at ``end`` of ``total`` rows (None: no more)."""
    return _encode(_OFFSET, end) if end < total else None


def page_of(rows: list[Listed], sort: str | None, page: PageRequest) -> Page[Listed]:
    """One page of the rows in ``sort`` order, and the cursor of the next (None: last)."""
    offset, end = page_range(page)
    rows = ordered(rows, sort)
    return Page(rows[offset:end], cursor_after(end, len(rows)))


def keyset_position(cursor: str | None) -> tuple[int, str] | None:
    """(``started_at`` in epoch ms, attempt id in lower case) after which a page of run
    attempts starts (None: the first page)."""
    if not cursor:
        return None
    started, attempt_id = _decode(cursor)
    canonical = canonical_uuid(attempt_id)
    if canonical is None:
        raise InvalidRequest(BAD_CURSOR)
    return _integer(started, *_BIGINT), canonical


def keyset_page(
    rows: Sequence[StoredRow], limit: int, shown: Callable[[StoredRow], Item]
) -> Page[Item]:
    """A page of run attempts from up to ``limit + 1`` rows read after a keyset position:
    the first ``limit`` shown, and the cursor after the last of them if there are more."""
    items = [shown(row) for row in rows[:limit]]
    if len(rows) <= limit:
        return Page(items, None)
    last = rows[limit - 1]
    return Page(items, _encode(last["started_at_ms"], last["id"]))
