"""Code that stays small: no module in src/cipulse over 400 lines, no function over 50
lines or of cyclomatic complexity over 15.

Migrations are history and not measured. A function's length runs from its ``def`` line to
its last line (decorators not counted); a module's is its number of lines."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "src" / "cipulse"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 50
MAX_COMPLEXITY = 15


def _modules() -> Iterator[tuple[str, str]]:
    for path in sorted(SOURCE.rglob("*.py")):
        if "migrations" not in path.relative_to(SOURCE).parts:
            yield path.relative_to(SOURCE).as_posix(), path.read_text(encoding="utf-8")


def _functions(
    node: ast.AST, prefix: str = ""
) -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """Every function and method below ``node``, with its qualified name (``Class.method``,
    ``outer.inner``)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            name = f"{prefix}{child.name}"
            if not isinstance(child, ast.ClassDef):
                yield name, child
            yield from _functions(child, f"{name}.")
        else:
            yield from _functions(child, prefix)


def offenders() -> dict[str, int]:
    """Each module over ``MAX_MODULE_LINES`` and function over ``MAX_FUNCTION_LINES``, with
    its number of lines."""
    found: dict[str, int] = {}
    for relative, text in _modules():
        if len(text.splitlines()) > MAX_MODULE_LINES:
            found[relative] = len(text.splitlines())
        for name, function in _functions(ast.parse(text)):
            length = (function.end_lineno or function.lineno) - function.lineno + 1
            if length > MAX_FUNCTION_LINES:
                found[f"{relative}::{name}"] = length
    return found


def test_no_module_or_function_is_too_long() -> None:
    found = offenders()
    assert found == {}, (
        f"split these (modules at most {MAX_MODULE_LINES} lines, functions at most "
        f"{MAX_FUNCTION_LINES}; lines in each): "
        + ", ".join(f"{key} ({lines})" for key, lines in sorted(found.items()))
    )


def test_no_function_is_too_complex() -> None:
    """Cyclomatic complexity (radon's, as the README's command prints it) at most 15."""
    from radon.complexity import cc_visit

    def blocks(found: list[Any]) -> Iterator[Any]:  # methods and closures too
        for block in found:
            yield block
            yield from blocks([*getattr(block, "methods", ()), *getattr(block, "closures", ())])

    found = sorted(
        {
            f"{relative}::{block.fullname} ({block.complexity})"
            for relative, text in _modules()
            for block in blocks(cc_visit(text))
            if block.complexity > MAX_COMPLEXITY
        }
    )
    assert found == [], f"simplify these (complexity at most {MAX_COMPLEXITY}): {found}"
