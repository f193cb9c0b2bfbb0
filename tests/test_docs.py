"""Docs that cannot drift: every setting is documented, the CLI reference is current, and
the README shows the two commands."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cipulse.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_every_setting_is_documented() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text()
    missing = [
        f"CIPULSE_{name.upper()}"
        for name in Settings.model_fields
        if f"CIPULSE_{name.upper()}" not in text
    ]
    assert missing == [], f"document these in docs/configuration.md: {missing}"


def test_every_setting_has_a_description() -> None:
    assert [name for name, field in Settings.model_fields.items() if not field.description] == []


@pytest.mark.parametrize(
    "script", ["cli_reference.py", "metrics_reference.py", "architecture_reference.py"]
)
def test_generated_pages_are_current(script: str) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / script), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_readme_shows_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make run" in readme and "make test" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()
