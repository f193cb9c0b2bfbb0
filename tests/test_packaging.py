"""cipulse as others install it: a wheel built from the checkout, installed into a fresh
virtual environment, gives a working ``cipulse`` command (templates, static files and
migrations inside); one version, which the CHANGELOG follows; the licence it claims."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest

import cipulse
from tests.servers import free_port, wait_until_healthy

ROOT = Path(__file__).resolve().parent.parent
RELEASED = re.compile(r"^## \[(\d+)\.(\d+)\.(\d+)\] - \d{4}-\d{2}-\d{2}$", re.MULTILINE)


def version_of(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def test_the_version_is_single_sourced_and_the_changelog_follows_it() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'^dynamic = \["version"\]$', pyproject, re.MULTILINE)
    assert 'version = { attr = "cipulse.__version__" }' in pyproject
    assert re.fullmatch(r"\d+\.\d+\.\d+", cipulse.__version__)
    changelog = (ROOT / "CHANGELOG.md").read_text()
    released = [tuple(int(n) for n in found) for found in RELEASED.findall(changelog)]
    assert released == sorted(released, reverse=True), "newest release first"
    assert "## [Unreleased]" in changelog
    if released:
        # The next release gets __version__: it is newer than every released section.
        assert version_of(cipulse.__version__) > released[0]


def test_the_licence_is_the_apache_2_text() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert text.split()[:4] == ["Apache", "License", "Version", "2.0,"]
    assert "END OF TERMS AND CONDITIONS" in text
    assert 'license = "Apache-2.0"' in (ROOT / "pyproject.toml").read_text()


@pytest.mark.slow
@pytest.mark.e2e
def test_a_wheel_installs_a_working_server(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(dist), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = dist.glob("cipulse-*.whl")
    assert wheel.name == f"cipulse-{cipulse.__version__}-py3-none-any.whl"
    names = zipfile.ZipFile(wheel).namelist()
    for needed in (
        "cipulse/web/templates/base.html",
        "cipulse/web/static/app.js",
        "cipulse/web/static/vendor/echarts.min.js",
        "cipulse/storage/migrations/env.py",
        "cipulse/storage/migrations/versions/0001_initial_schema.py",
        "cipulse/py.typed",
    ):
        assert needed in names, needed
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)

    # A fresh environment: this environment's pip installs the wheel and its dependencies
    # into it (from pip's cache: no second download).
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python)]
    subprocess.run(
        [*pip, "install", "--quiet", "--no-compile", str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    cipulse_command = venv / "bin" / "cipulse"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CIPULSE_")}
    environment.pop("PYTHONPATH", None)
    where = subprocess.run(
        [str(python), "-c", "import cipulse; print(cipulse.__file__)"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(str(venv)), where  # the wheel's copy, not the checkout's
    helped = subprocess.run(
        [str(cipulse_command), "--help"], env=environment, capture_output=True, text=True
    )
    assert helped.returncode == 0 and "serve" in helped.stdout

    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [str(cipulse_command), "serve", "--port", str(port)],
            cwd=tmp_path,
            env={**environment, "CIPULSE_DATABASE_URL": f"sqlite:///{tmp_path / 'w.db'}"},
            stdout=output,
            stderr=output,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base_url)
        assert f"cipulse {cipulse.__version__} on {base_url}" in log.read_text()
        sign_in = httpx.get(f"{base_url}/sign-in")
        assert sign_in.status_code == 200 and "Sign in to cipulse" in sign_in.text
        assert httpx.get(f"{base_url}/static/app.css").status_code == 200
        assert httpx.get(f"{base_url}/").status_code == 303  # to the sign-in page
    finally:
        server.terminate()
        server.wait(timeout=15)
