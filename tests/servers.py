"""Real servers on loopback ports for tests: uvicorn in a thread of the test process, or
``cipulse serve`` as a separate process."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn
from fastapi import FastAPI

from cipulse.settings import Settings
from cipulse.web.app import create_app

#: Generous: a server starting on a busy 2-core machine (a test run beside others) is slow.
STARTUP_TIMEOUT_SECONDS = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_healthy(base_url: str, timeout: float = STARTUP_TIMEOUT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base_url}/healthz", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"no healthy server at {base_url} after {timeout}s")


@contextmanager
def threaded_server(settings: Settings, app: FastAPI | None = None) -> Iterator[str]:
    """The real app (or ``app``, built by ``create_app``) served by uvicorn on a free
    loopback port, in a thread; yields its URL."""
    port = free_port()
    config = uvicorn.Config(
        app or create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base_url)
        yield base_url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
