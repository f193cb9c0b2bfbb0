"""The checkout stands on its own: no test, script, benchmark or source file refers to a path
outside the repository (a user's clone has nothing beside it). Static checks of the tracked
files, so they need no database."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Folders whose files run: anything they read must be inside the checkout.
CHECKED = ("src", "tests", "bench", "scripts", "integrations", ".ci", "Makefile")
_PARENTS = re.compile(r"Path\(__file__\)(?:\.resolve\(\))?\.parents\[(\d+)\]")
_PARENT_CHAIN = re.compile(r"Path\(__file__\)(?:\.resolve\(\))?((?:\.parent)+)")
_RELATIVE = re.compile(r"""["'`\s=(](\.\./[^"'`\s)]*)""")
_ABSOLUTE = re.compile(r"""["'](/work/|/home/|/Users/)""")


def _tracked() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", *CHECKED],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [ROOT / name for name in listed if (ROOT / name).is_file()]


def _text(path: Path) -> str | None:
    if path.suffix in {".png", ".gz", ".zip"} or "fixtures/real" in path.as_posix():
        return None
    try:
        return path.read_text()
    except UnicodeDecodeError:
        return None


def _inside(path: Path) -> bool:
    return path.resolve().is_relative_to(ROOT)


def test_no_file_refers_to_a_path_outside_the_checkout() -> None:
    outside: list[str] = []
    for path in _tracked():
        text = _text(path)
        if text is None:
            continue
        where = path.relative_to(ROOT)
        for match in _PARENTS.finditer(text):
            if not _inside(path.parents[int(match.group(1))]):
                outside.append(f"{where}: {match.group(0)}")
        for match in _PARENT_CHAIN.finditer(text):
            if not _inside(path.parents[match.group(1).count(".parent") - 1]):
                outside.append(f"{where}: {match.group(0)}")
        for match in _RELATIVE.finditer(text):
            relative = match.group(1)
            if not (_inside(path.parent / relative) or _inside(ROOT / relative)):
                outside.append(f"{where}: {relative}")
        outside += [f"{where}: {m.group(0)}" for m in _ABSOLUTE.finditer(text)]
    assert outside == []


def test_the_real_fixtures_say_where_they_come_from() -> None:
    folder = ROOT / "tests" / "fixtures" / "real"
    sources = (folder / "SOURCES.md").read_text()
    payloads = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.json"))
    assert payloads
    assert [p for p in payloads if f"`{p}`" not in sources] == []
