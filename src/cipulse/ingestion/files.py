"""Payload files: one JSON payload, a JSON array, or JSON Lines.

Reading payload files for offline import: a file holds one JSON payload, a JSON array of
payloads, or JSON Lines (one payload per line)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson


@dataclass(frozen=True, slots=True)
class Payload:
    origin: str  # "file.json", "file.json[3]" or "file.jsonl:12", for error messages
    body: bytes


def payloads(path: Path) -> Iterator[Payload]:
    data = path.read_bytes()
    if path.suffix in {".jsonl", ".ndjson"}:
        yield from _lines(path, data)
        return
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError:
        if data.count(b"\n") > 1:
            yield from _lines(path, data)
        else:
            yield Payload(str(path), data)  # let the parser name the JSON error
        return
    if isinstance(document, list):
        for index, item in enumerate(document):
            yield Payload(f"{path}[{index}]", orjson.dumps(item))
    else:
        yield Payload(str(path), data)


def _lines(path: Path, data: bytes) -> Iterator[Payload]:
    for number, line in enumerate(data.splitlines(), start=1):
        if line.strip():
            yield Payload(f"{path}:{number}", line)
