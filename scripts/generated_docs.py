"""Shared by the scripts that generate docs pages from the code: write the page, or with
``--check`` fail when the page on disk differs from what the code says."""

from __future__ import annotations

import sys
from pathlib import Path


def write_or_check(page: Path, text: str, script: str) -> int:
    if "--check" in sys.argv:
        if not page.exists() or page.read_text() != text:
            print(f"{page} is out of date: run python scripts/{script}", file=sys.stderr)
            return 1
        return 0
    page.write_text(text)
    return 0
