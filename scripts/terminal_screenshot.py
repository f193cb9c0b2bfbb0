"""Render the first start of ``cipulse serve`` (its real output, in a fresh directory) as a
terminal picture for the README: ``docs/screenshots/first-start.png``.

    python scripts/terminal_screenshot.py   # needs Debian's chromium

The server's output is captured for real, then the key and the dashboard password are
shortened so the picture shows no usable secret."""

from __future__ import annotations

import html
import os
import re
import shutil
import signal
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "docs" / "screenshots" / "first-start.png"
CIPULSE = str(Path(sys.executable).with_name("cipulse"))

PAGE = string.Template((Path(__file__).with_suffix(".html")).read_text())


def first_start_output() -> str:
    with tempfile.TemporaryDirectory() as directory:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CIPULSE_")}
        env["CIPULSE_LOG_LEVEL"] = "info"
        log = Path(directory) / "out.log"
        with log.open("w") as out:
            process = subprocess.Popen(
                [CIPULSE, "serve", "--port", "8000"],
                cwd=directory,
                env=env,
                stdout=out,
                stderr=out,
                start_new_session=True,
            )
        try:
            deadline = time.monotonic() + 20
            while "Uvicorn running" not in log.read_text() and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=15)
        text = log.read_text()
    return text[: text.index("Uvicorn running")] + "Uvicorn running on http://127.0.0.1:8000"


def render(output: str) -> str:
    shortened = re.sub(r"(cip_[0-9a-f]{8}_)[A-Za-z0-9_-]+", r"\1…", output)
    shortened = re.sub(r"(with password \S{4})\S+", r"\1…", shortened)
    body = html.escape(shortened)
    body = re.sub(r"(cip_[0-9a-f]{8}_…)", r'<span class="key">\1</span>', body)
    body = re.sub(r"^(INFO:.*)$", r'<span class="dim">\1</span>', body, flags=re.MULTILINE)
    return PAGE.substitute(body='<span class="prompt">$ make run</span>\n' + body)


def main() -> int:
    chromium = shutil.which("chromium")
    if chromium is None:
        print("needs chromium (apt-get install chromium)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as directory:
        page = Path(directory) / "page.html"
        page.write_text(render(first_start_output()))
        TARGET.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--no-first-run",
                f"--user-data-dir={directory}/profile",
                "--hide-scrollbars",
                f"--screenshot={TARGET}",
                "--window-size=1088,660",
                page.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
