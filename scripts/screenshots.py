"""Take the README's and docs' screenshots of the dashboard from a seeded database.

    make demo                                   # once: ./demo.db with 200,000 runs
    .venv/bin/python scripts/screenshots.py     # writes docs/screenshots/*.png

It serves the database with ``cipulse serve`` on a free loopback port, gives the dashboard
user ``demo@cipulse.local`` a throwaway password (creating the user when missing), and drives
Debian's Chromium (``CIPULSE_TEST_CHROMIUM``, else ``chromium``) with Playwright through the
pages a newcomer opens: overview (light and dark), pipelines, the busiest pipeline, one of its
runs that needed a retry when there is one, flaky jobs, the metrics explorer; then the
pipelines, flaky jobs and that run on a phone (390x844, ``*-phone.png``).
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
EMAIL = "demo@cipulse.local"
VIEWPORT = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--database-url", default="sqlite:///./demo.db")
    parser.add_argument("--org", default="demo")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    options = parser.parse_args()
    chromium = shutil.which(os.environ.get("CIPULSE_TEST_CHROMIUM") or "chromium")
    if chromium is None:
        sys.exit("no Chromium: apt-get install chromium (or set CIPULSE_TEST_CHROMIUM)")
    environment = {**os.environ, "CIPULSE_DATABASE_URL": options.database_url}
    password = secrets.token_urlsafe(16)
    _user(environment, options.org, password)
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "cipulse", "serve", "--port", str(port)],
        env={**environment, "CIPULSE_BOOTSTRAP_ORG": ""},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_until_up(url)
        options.out.mkdir(parents=True, exist_ok=True)
        _shoot(chromium, url, password, options.out)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return 0


def _user(environment: dict[str, str], org: str, password: str) -> None:
    for arguments in (
        ("users", "create", EMAIL, "--org", org, "--password-stdin"),
        ("users", "set-password", EMAIL, "--password-stdin"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "cipulse", *arguments],
            env=environment,
            input=password + "\n",
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode == 0:
            return
    sys.exit(f"could not set up {EMAIL}: {done.stderr}")


def _shoot(chromium: str, url: str, password: str, out: Path) -> None:
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=args)
        for scheme in ("light", "dark"):
            context = browser.new_context(viewport=VIEWPORT, color_scheme=scheme)
            page = context.new_page()
            page.goto(url + "/sign-in")
            page.get_by_label("Email").fill(EMAIL)
            page.get_by_label("Password").fill(password)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(url + "/")
            if scheme == "dark":
                _save(page, out / "overview-dark.png")
                context.close()
                continue
            _save(page, out / "overview.png")
            for path, name in (
                ("/pipelines", "pipelines"),
                ("/flaky", "flaky"),
                ("/metrics", "metrics"),
            ):
                page.goto(url + path)
                _save(page, out / f"{name}.png")
            busiest = page.request.get(url + "/api/v1/pipelines?sort=-runs&limit=1").json()
            pipeline = busiest["items"][0]["id"]
            page.goto(f"{url}/pipelines/{pipeline}")
            _save(page, out / "pipeline.png")
            runs = page.request.get(f"{url}/api/v1/runs?pipeline={pipeline}&limit=100").json()
            # A run that failed and then passed on a retry shows the attempt switcher best.
            items = runs["items"]
            retried = (
                [run for run in items if run["attempt"] > 1 and run["status"] == "success"]
                or [run for run in items if run["attempt"] > 1]
                or items
            )
            page.goto(f"{url}/runs/{retried[0]['id']}")
            _save(page, out / "run.png")
            page.set_viewport_size(PHONE)
            for path, name in (
                ("/pipelines", "pipelines-phone"),
                ("/flaky", "flaky-phone"),
                (f"/runs/{retried[0]['id']}", "run-phone"),
            ):
                page.goto(url + path)
                _save(page, out / f"{name}.png")
            context.close()
        browser.close()


def _save(page: Page, path: Path) -> None:
    # Charts draw after load; wait for every one to hold its SVG.
    page.wait_for_load_state("networkidle")
    for chart in page.locator("[data-chart]").all():
        chart.locator("svg").first.wait_for(state="attached")
    page.screenshot(path=path, full_page=False)
    print(f"wrote {path.relative_to(ROOT)}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_up(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    sys.exit(f"cipulse serve did not answer on {url}")


if __name__ == "__main__":
    sys.exit(main())
