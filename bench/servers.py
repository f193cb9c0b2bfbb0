"""Starting servers on free loopback ports and always stopping them, and which cipulse they run.

Each server runs in its own session (process group), so stopping it reaches uvicorn's worker
processes too, whatever happens to the benchmark in between.

The code under test is the cipulse this Python imports (the working tree, installed in
editable mode) or an older revision: ``checked_out`` makes a git worktree of it in a temporary
directory and puts its ``src`` first on ``PYTHONPATH``, so the same interpreter and the same
dependencies run the older code."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
REPOSITORY = Path(__file__).resolve().parent.parent
_START_TIMEOUT_SECONDS = 30.0
_STOP_TIMEOUT_SECONDS = 15.0
_GIT_TIMEOUT_SECONDS = 120


class BaselineUnavailable(RuntimeError):
    """The baseline revision cannot be checked out or imported here."""


@dataclass(frozen=True, slots=True)
class Code:
    """Which cipulse a process runs: ``source`` None for the one this Python imports, else a
    ``src`` directory put first on ``PYTHONPATH``."""

    label: str  # "current" or "baseline"
    description: str
    source: Path | None = None
    revision: str | None = None  # the abbreviated commit, when known

    def environment(self) -> dict[str, str]:
        if self.source is None:
            return {}
        existing = os.environ.get("PYTHONPATH")
        return {
            "PYTHONPATH": os.pathsep.join([str(self.source), *([existing] if existing else [])])
        }

    def location(self) -> Path:
        """Where ``import cipulse`` finds the package in processes started for this code."""
        completed = subprocess.run(
            [sys.executable, "-c", "import cipulse; print(cipulse.__file__)"],
            cwd=REPOSITORY,
            env={**os.environ, **self.environment()},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if completed.returncode != 0:
            raise RuntimeError(f"import cipulse failed:\n{completed.stderr.strip()}")
        return Path(completed.stdout.strip()).resolve().parent


@dataclass(frozen=True, slots=True)
class Server:
    name: str
    base_url: str
    process: subprocess.Popen[bytes]
    log: Path


def current_code() -> Code:
    """The working tree's cipulse, described by its commit and whether ``src`` is modified."""
    location = Code("current", "").location()
    description = str(location)
    try:
        head = _git("rev-parse", "--short", "HEAD").strip()
        dirty = _git("status", "--porcelain", "--", "src").strip()
    except BaselineUnavailable:
        return Code("current", description)
    state = " + uncommitted changes in src/" if dirty else ""
    return Code("current", f"{description} ({head}{state})", revision=head)


@contextmanager
def checked_out(revision: str, parent: Path) -> Iterator[Code]:
    """A git worktree of ``revision`` under ``parent`` as the code under test, removed (with
    ``git worktree remove --force``) on exit; BaselineUnavailable when that cannot be."""
    commit = _commit(revision)
    subject = _git("log", "-1", "--format=%s", commit).strip()
    if len(subject) > 60:
        subject = subject[:57] + "..."
    tree = parent / f"baseline-{commit[:12]}"
    try:
        _git("worktree", "add", "--detach", str(tree), commit)
    except BaselineUnavailable:
        shutil.rmtree(tree, ignore_errors=True)
        raise
    try:
        code = Code("baseline", f"{commit[:7]} ({subject})", tree / "src", commit[:7])
        try:
            location = code.location()
        except RuntimeError as exc:
            raise BaselineUnavailable(f"{revision}: {exc}") from exc
        if not location.is_relative_to(tree.resolve()):
            raise BaselineUnavailable(
                f"{revision}: import cipulse with PYTHONPATH={code.source} finds {location}, "
                "not the checked-out revision (no src/cipulse there?)"
            )
        yield code
    finally:
        _remove_worktree(tree)


def _commit(revision: str) -> str:
    top = _git("rev-parse", "--show-toplevel").strip()
    if Path(top).resolve() != REPOSITORY.resolve():
        raise BaselineUnavailable(
            f"{REPOSITORY} is not the top of a git checkout (git finds {top})"
        )
    try:
        return _git("rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}").strip()
    except BaselineUnavailable:
        raise BaselineUnavailable(
            f"revision {revision} is not in this repository (a shallow clone? "
            "git fetch --unshallow)"
        ) from None


def _remove_worktree(tree: Path) -> None:
    try:
        _git("worktree", "remove", "--force", str(tree))
    except BaselineUnavailable as exc:
        print(f"warning: could not remove the baseline worktree {tree}: {exc}", flush=True)
        shutil.rmtree(tree, ignore_errors=True)


def _git(*arguments: str) -> str:
    """Run git in the repository; BaselineUnavailable with git's message when it fails."""
    try:
        completed = subprocess.run(
            ["git", "-C", str(REPOSITORY), *arguments],
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT_SECONDS,
            check=False,
        )
    except FileNotFoundError:
        raise BaselineUnavailable("git is not installed") from None
    except subprocess.TimeoutExpired:
        raise BaselineUnavailable(f"git {arguments[0]} took over {_GIT_TIMEOUT_SECONDS}s") from None
    if completed.returncode != 0:
        message = completed.stderr.strip().splitlines()
        reason = message[0] if message else f"exit status {completed.returncode}"
        if "not a git repository" in reason:
            reason = f"{REPOSITORY} is not a git checkout"
        raise BaselineUnavailable(reason)
    return completed.stdout


def free_port() -> int:
    """A port nothing listens on right now (the kernel's choice for an ephemeral bind)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def cipulse_command(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "cipulse", *arguments]


def cipulse_server_command(port: int, workers: int) -> list[str]:
    return cipulse_command("serve", "--host", HOST, "--port", str(port), "--workers", str(workers))


def bare_server_command(port: int, workers: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "bench.bare",
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]


@contextmanager
def running(
    name: str, command: list[str], port: int, env: Mapping[str, str], log: Path
) -> Iterator[Server]:
    """Start ``command``, wait until ``/healthz`` answers 200, stop the whole group on exit."""
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            command,
            cwd=REPOSITORY,
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(name, f"http://{HOST}:{port}", process, log)
    try:
        _wait_until_healthy(server)
        yield server
    finally:
        stop(process)


def _wait_until_healthy(server: Server) -> None:
    deadline = time.monotonic() + _START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"{server.name} exited with status {server.process.returncode} on start:\n"
                + _tail(server.log)
            )
        try:
            with urllib.request.urlopen(f"{server.base_url}/healthz", timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise RuntimeError(
        f"{server.name} did not answer /healthz within {_START_TIMEOUT_SECONDS:.0f}s:\n"
        + _tail(server.log)
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group, SIGKILL it if it lingers, and reap the leader."""
    if process.poll() is None or _group_alive(process.pid):
        _signal_group(process.pid, signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=_STOP_TIMEOUT_SECONDS)
        _wait_for_group(process.pid, deadline=time.monotonic() + 5)
        _signal_group(process.pid, signal.SIGKILL)
    process.wait()


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with suppress(ProcessLookupError):
        os.killpg(pgid, signum)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_for_group(pgid: int, deadline: float) -> None:
    """Let worker processes finish their graceful shutdown after the supervisor has."""
    while _group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)


def _tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
