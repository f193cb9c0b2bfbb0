"""Generate the parts of ``docs/architecture.md`` that the code already says: the layout tree
(every package and module, in the order of the layers, each with the summary line of its
docstring) and the import contracts (``pyproject.toml``'s import-linter section, verbatim).

    python scripts/architecture_reference.py          # rewrite those parts of the page
    python scripts/architecture_reference.py --check  # exit 1 if they are out of date (tests)

A module without a one-line summary (the first line of its docstring, followed by a blank
line or the end of the docstring, at most 72 characters) stops the generator with its name.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

from generated_docs import write_or_check

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "cipulse"
PAGE = ROOT / "docs" / "architecture.md"
PYPROJECT = ROOT / "pyproject.toml"
LONGEST_SUMMARY = 72
#: The column the descriptions start at (a longer name pushes its own further).
DESCRIPTION_COLUMN = 30

#: Folders that hold no Python, so no docstring can say what they are.
FOLDERS = {
    "web/templates": "Jinja2 templates of the dashboard's pages",
    "web/static": "CSS, a little JavaScript, vendored Apache ECharts",
    "storage/migrations": "the Alembic environment and its revisions",
    "storage/migrations/versions": "one revision per change of the schema",
}
#: Not listed: generated or packaging files.
SKIPPED = {"py.typed", "__pycache__", "script.py.mako"}


class MissingSummary(Exception):
    pass


def summary(path: Path) -> str:
    """The first line of a module's docstring, when it is a line of its own."""
    doc = ast.get_docstring(ast.parse(path.read_text()))
    first, _, rest = (doc or "").partition("\n")
    if not first or len(first) > LONGEST_SUMMARY or (rest and not rest.startswith("\n")):
        raise MissingSummary(
            f"{path.relative_to(ROOT)}: start its docstring with a summary of at most "
            f"{LONGEST_SUMMARY} characters on a line of its own, then a blank line"
        )
    return first.removesuffix(".")


def describe(folder: Path) -> str:
    relative = folder.relative_to(PACKAGE).as_posix()
    if (folder / "__init__.py").exists():
        return summary(folder / "__init__.py")
    if relative not in FOLDERS:
        raise MissingSummary(f"{relative}/: say what it holds in FOLDERS ({Path(__file__).name})")
    return FOLDERS[relative]


def listed(folder: Path) -> list[Path]:
    """What a folder's tree shows: its modules, then its folders; nothing inside a folder of
    assets (no Python) or of migration revisions (history: ``alembic history`` lists them)."""
    if not any(folder.glob("*.py")) or folder.name == "versions":
        return []
    entries = [
        entry
        for entry in folder.iterdir()
        if entry.name not in SKIPPED
        and entry.name != "__init__.py"
        and (entry.is_dir() or entry.suffix == ".py")
    ]
    return sorted(entries, key=lambda entry: (entry.is_dir(), entry.name))


def line(prefix: str, name: str, text: str) -> str:
    label = prefix + name
    text = text.replace("``", "")  # reStructuredText literals read as plain words in a tree
    if len(label) < DESCRIPTION_COLUMN - 1:
        return label.ljust(DESCRIPTION_COLUMN) + text
    return f"{label}  {text}"


def tree_lines(folder: Path, indent: str) -> list[str]:
    lines: list[str] = []
    entries = listed(folder)
    for index, entry in enumerate(entries):
        last = index == len(entries) - 1
        branch, below = ("└── ", "    ") if last else ("├── ", "│   ")
        if entry.is_dir():
            lines.append(line(indent + branch, entry.name + "/", describe(entry)))
            lines.extend(tree_lines(entry, indent + below))
        else:
            lines.append(line(indent + branch, entry.name, summary(entry)))
    return lines


def layer_order(contracts: list[dict[str, object]]) -> list[str]:
    """Top-level packages and modules in the order of the layers contract, top layer first."""
    layers = next(contract for contract in contracts if contract["type"] == "layers")["layers"]
    assert isinstance(layers, list)
    return [name.strip().removeprefix("cipulse.") for layer in layers for name in layer.split("|")]


def layout(contracts: list[dict[str, object]]) -> str:
    order = layer_order(contracts)
    rank = {name: position for position, name in enumerate(order)}
    top = listed(PACKAGE)
    top.sort(key=lambda entry: (rank.get(entry.name.removesuffix(".py"), len(rank)), entry.name))
    lines = [line("", "src/cipulse/", summary(PACKAGE / "__init__.py"))]
    for index, entry in enumerate(top):
        last = index == len(top) - 1
        branch, below = ("└── ", "    ") if last else ("├── ", "│   ")
        if entry.is_dir():
            lines.append(line(branch, entry.name + "/", describe(entry)))
            lines.extend(tree_lines(entry, below))
        else:
            lines.append(line(branch, entry.name, summary(entry)))
    return "```text\n" + "\n".join(lines) + "\n```\n"


def import_contracts() -> str:
    text = PYPROJECT.read_text()
    start = text.index("[tool.importlinter]")
    following = re.compile(r"^\[(?!\[?tool\.importlinter)", re.MULTILINE).search(text, start + 1)
    section = text[start : following.start() if following else len(text)].rstrip()
    return "```toml\n" + section + "\n```\n"


def replace_between(page: str, name: str, generated: str) -> str:
    begin = f"<!-- generated by scripts/architecture_reference.py: {name} -->\n"
    end = f"<!-- end of the generated {name} -->"
    head, found, rest = page.partition(begin)
    if not found or end not in rest:
        raise SystemExit(f"{PAGE}: the markers of the generated {name} are missing")
    return head + begin + generated + rest[rest.index(end) :]


def generate() -> str:
    contracts = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]["contracts"]
    page = PAGE.read_text()
    page = replace_between(page, "layout", layout(contracts))
    return replace_between(page, "import contracts", import_contracts())


def main() -> int:
    try:
        text = generate()
    except MissingSummary as missing:
        print(missing, file=sys.stderr)
        return 1
    return write_or_check(PAGE, text, "architecture_reference.py")


if __name__ == "__main__":
    sys.exit(main())
