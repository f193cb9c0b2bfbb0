"""Code that stays small: no module in src/cipulse over 400 lines, no function over 50.

Migrations are history and not measured. A function's length runs from its ``def`` line to
its last line (decorators not counted); a module's is its number of lines."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "src" / "cipulse"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 50

#: Today's offenders, by ``path`` (a module) or ``path::qualified.name`` (a function), paths
#: relative to src/cipulse: being split in issue 14. The lead empties this after merging.
KNOWN_OFFENDERS = frozenset(
    {
        "analytics/service.py",
        "analytics/window_figures.py",
        "analytics/window_figures.py::collect",
        "analytics/metric_figures.py::metric_buckets",
        "storage/analytics_store.py",
        "storage/rollup_store.py",
        "storage/rollup_store.py::Selection.conditions",
        "storage/schema.py",
        "web/app.py::create_app",
        "web/dashboard/auth.py::router",
        "web/dashboard/pages.py::router",
        "web/dashboard/settings_admin.py::router",
        "web/dashboard/settings_page.py::settings_page",
        "web/dashboard/view.py::view_of",
        "web/ingest_routes.py::router",
        "web/list_routes.py::router",
        "web/read_routes.py::router",
        "web/read_routes.py::window_query",
    }
)


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
    new = {key: lines for key, lines in offenders().items() if key not in KNOWN_OFFENDERS}
    assert new == {}, (
        f"split these (modules at most {MAX_MODULE_LINES} lines, functions at most "
        f"{MAX_FUNCTION_LINES}; lines in each): "
        + ", ".join(f"{key} ({lines})" for key, lines in sorted(new.items()))
    )


def test_the_known_offenders_are_still_offending() -> None:
    fixed = sorted(KNOWN_OFFENDERS - offenders().keys())
    assert fixed == [], f"no longer too long, remove from KNOWN_OFFENDERS: {fixed}"


def test_qualified_names_tell_methods_and_inner_functions_apart() -> None:
    tree = ast.parse(
        "class A:\n    def f(self): pass\ndef g():\n    def h(): pass\nasync def k(): pass\n"
    )
    assert [name for name, _ in _functions(tree)] == ["A.f", "g", "g.h", "k"]
