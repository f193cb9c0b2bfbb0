"""The one CSV writer (formula cells quoted).

The one CSV writer: the read API's ``format=csv`` and the dashboard's CSV links.

What CI sent (job names, branches, tags) ends up in the cells, and a spreadsheet runs a cell
that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return before them) as a
formula: ``=HYPERLINK(...)`` in a job name would become a link in the reader's spreadsheet.
So such text cells get a leading ``'`` (OWASP's guard against CSV injection); numbers are
written as they are, so ``-3`` stays a number."""

from __future__ import annotations

import csv
import io
from typing import Any

import orjson
from starlette.responses import Response

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralised(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula, prefixed with ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def flattened(item: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested fields as ``outer.inner`` columns; lists as JSON text."""
    flat: dict[str, Any] = {}
    for key, value in item.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flattened(value, f"{name}."))
        elif isinstance(value, list):
            flat[name] = orjson.dumps(value).decode()
        else:
            flat[name] = value
    return flat


def csv_response(items: list[dict[str, Any]], headers: dict[str, str] | None = None) -> Response:
    rows = [
        {neutralised(key): neutralised(value) for key, value in flattened(item).items()}
        for item in items
    ]
    columns = list(dict.fromkeys(key for row in rows for key in row))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)
