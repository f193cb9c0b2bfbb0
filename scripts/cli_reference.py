"""Generate ``docs/cli.md`` from the commands' own ``--help``, so the reference cannot drift.

python scripts/cli_reference.py          # rewrite docs/cli.md
python scripts/cli_reference.py --check  # exit 1 if docs/cli.md is out of date (tests do this)
"""

from __future__ import annotations

from pathlib import Path

import click
from click.testing import CliRunner
from generated_docs import write_or_check

from cipulse.cli.main import cli

REFERENCE = Path(__file__).resolve().parents[1] / "docs" / "cli.md"
HEADER = """# CLI reference

Generated from `cipulse … --help` by `scripts/cli_reference.py`; a test fails when it is out
of date. Every command reads `CIPULSE_DATABASE_URL` (or `--database-url`); see
[configuration.md](configuration.md).
"""


def _commands(group: click.Group, prefix: list[str]) -> list[list[str]]:
    found = [prefix]
    for name in sorted(group.commands):
        command = group.commands[name]
        if isinstance(command, click.Group):
            found += _commands(command, [*prefix, name])
        else:
            found.append([*prefix, name])
    return found


def render() -> str:
    sections = [HEADER]
    runner = CliRunner()
    for path in _commands(cli, []):
        result = runner.invoke(cli, [*path, "--help"], prog_name="cipulse", terminal_width=100)
        title = " ".join(["cipulse", *path])
        sections.append(f"## `{title}`\n\n```text\n{result.output.rstrip()}\n```\n")
    return "\n".join(sections)


def main() -> int:
    return write_or_check(REFERENCE, render(), "cli_reference.py")


if __name__ == "__main__":
    raise SystemExit(main())
