"""Pages of the analytics lists: sort order, limit, opaque cursor.

Pages of the analytics lists: a sort order, a limit and an opaque cursor. Every cursor
is read here, and one that this API did not return is a 400 (``cursor: ...``)."""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cipulse.domain.accepted import canonical_uuid
from cipulse.errors import InvalidRequest

MAX_PAGE = 1000


@dataclass(frozen=True, slots=True)
class PageRequest:
    """``sort``: a field of the listed rows, ``-`` first for descending (None: the list's
    own order)."""

    limit: int = 100
    cursor: str | None = None
    sort: str | None = None


DEFAULT_PAGE = PageRequest()


#: The one error of every cursor that is not one this API returned.
BAD_CURSOR = "cursor: not a cursor this API returned"
_INTEGER = re.compile(r"-?[0-9]{1,19}")
_BIGINT = (-(2**63), 2**63 - 1)


def _fields(cursor: str) -> tuple[str, str]:
    """A cursor's two fields: base64 of ``first:rest``."""
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequest(BAD_CURSOR) from None
    first, separator, rest = text.partition(":")
    if not separator:
        raise InvalidRequest(BAD_CURSOR)
    return first, rest


def _integer(text: str, low: int, high: int) -> int:
    if not _INTEGER.fullmatch(text) or not low <= int(text) <= high:
        raise InvalidRequest(BAD_CURSOR)
    return int(text)


def _encode(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _decode(cursor: str) -> int:
    """The position in the list a list cursor points at."""
    kind, offset = _fields(cursor)
    if kind != "offset":
        raise InvalidRequest(BAD_CURSOR)
    return _integer(offset, 0, _BIGINT[1])


def encode_position(started_at_ms: int, attempt_id: str) -> str:
    """The cursor of the run list after the attempt (``started_at``, id)."""
    return base64.urlsafe_b64encode(f"{started_at_ms}:{attempt_id}".encode()).decode()


def decode_position(cursor: str) -> tuple[int, str]:
    """(``started_at`` in epoch ms, attempt id in lower case) of a run list cursor."""
    started, attempt_id = _fields(cursor)
    canonical = canonical_uuid(attempt_id)
    if canonical is None:
        raise InvalidRequest(BAD_CURSOR)
    return _integer(started, *_BIGINT), canonical


def check_sort(sort: str | None, fields: Sequence[str]) -> None:
    if sort is not None and sort.removeprefix("-") not in fields:
        raise InvalidRequest(
            "sort: must be one of " + ", ".join(fields) + " (prefix - for descending)"
        )


def ordered(rows: list[dict[str, Any]], sort: str | None) -> list[dict[str, Any]]:
    """Rows by ``sort`` (empty values last either way), ties in their given order."""
    if not sort:
        return rows
    field = sort.removeprefix("-")
    present = [row for row in rows if row.get(field) is not None]
    missing = [row for row in rows if row.get(field) is None]
    present.sort(key=lambda row: row[field], reverse=sort.startswith("-"))
    return present + missing


def page_range(page: PageRequest) -> tuple[int, int]:
    """The positions ``[start, end)`` of the page in the whole list."""
    if not 1 <= page.limit <= MAX_PAGE:
        raise InvalidRequest(f"limit: must be from 1 to {MAX_PAGE}")
    offset = _decode(page.cursor) if page.cursor else 0
    return offset, offset + page.limit


def cursor_after(end: int, total: int) -> str | None:
    """The cursor of the page starting at ``end`` of ``total`` rows (None: no more)."""
    return _encode(end) if end < total else None


def page_of(
    rows: list[dict[str, Any]], sort: str | None, page: PageRequest
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the rows in ``sort`` order, and the cursor of the next (None: last)."""
    offset, end = page_range(page)
    rows = ordered(rows, sort)
    return rows[offset:end], cursor_after(end, len(rows))
