"""The one CSV writer (formula cells quoted).

The one CSV writer: the read API's ``format=csv`` and the dashboard's CSV links.

What CI sent (job names, branches, tags) ends up in the cells, and a spreadsheet runs a cell
that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return before them) as a
formula: ``=HYPERLINK(...)`` in a job name would become a link in the reader's spreadsheet.
So such text cells get a leading ``'`` (OWASP's guard against CSV injection); numbers are
written as they are, so ``-3`` stays a number.

Nested fields become ``outer.inner`` columns (``by_status.success``); ``tags`` and ``metrics``,
whose keys vary from row to row, and lists are one column of JSON text each, so that the
columns of a list are known before its first row: a whole list is streamed, header first (an
empty list answers its header too)."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
from starlette.responses import Response, StreamingResponse

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: Fields whose keys vary from row to row: one JSON column each.
OPEN_FIELDS = frozenset({"tags", "metrics"})
MEDIA_TYPE = "text/csv; charset=utf-8"
Row = dict[str, Any]


def neutralised(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula, prefixed with ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def flattened(item: Row, prefix: str = "") -> Row:
    """Nested fields as ``outer.inner`` columns; lists and open fields as JSON text."""
    flat: Row = {}
    for key, value in item.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and name not in OPEN_FIELDS:
            flat.update(flattened(value, f"{name}."))
        elif isinstance(value, list | dict):
            flat[name] = orjson.dumps(value).decode()
        else:
            flat[name] = value
    return flat


def _cells(item: Row) -> Row:
    return {neutralised(key): neutralised(value) for key, value in flattened(item).items()}


def _text(columns: list[str], rows: list[Row], header: bool = False) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
    if header:
        writer.writeheader()
    writer.writerows(_cells(row) for row in rows)
    return out.getvalue()


def csv_response(items: list[Row], headers: dict[str, str] | None = None) -> Response:
    rows = [_cells(item) for item in items]
    columns = list(dict.fromkeys(key for row in rows for key in row))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return Response(out.getvalue(), media_type=MEDIA_TYPE, headers=headers)


def csv_stream(blank: Row, next_batch: Callable[[], Awaitable[list[Row] | None]]) -> Response:
    """A whole list as CSV, written a batch at a time: the header (the columns of ``blank``,
    a row with every field), then each batch ``next_batch`` gives until it gives None."""
    columns = list(_cells(blank))

    async def body() -> AsyncIterator[str]:
        yield _text(columns, [], header=True)
        while (batch := await next_batch()) is not None:
            yield _text(columns, batch)

    return StreamingResponse(body(), media_type=MEDIA_TYPE)
