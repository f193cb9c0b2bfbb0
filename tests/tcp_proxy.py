"""A loopback TCP forwarder to put in front of the shared PostgreSQL, so that a test can make
the database misbehave without touching the real server.

``freeze()`` stops forwarding bytes but keeps every socket open, new ones included: to the
client it looks like a SIGSTOPped PostgreSQL (the kernel still accepts connections and ACKs
what is sent, nothing answers). ``refuse()`` closes the listening socket and resets the
open connections: connection refused, as when the server is down. ``thaw()`` and
``accept()`` undo them."""

from __future__ import annotations

import contextlib
import selectors
import socket
import struct
import threading
from collections.abc import Iterator

#: How often a pump looks at the switches when nothing moves.
POLL_SECONDS = 0.05


class TcpProxy:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = 0
        self._frozen = threading.Event()
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._threads: list[threading.Thread] = []

    def start(self) -> TcpProxy:
        self._listen()
        return self

    def _listen(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        listener.settimeout(POLL_SECONDS)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._spawn(self._accept_loop, listener)

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        thread.start()
        self._threads.append(thread)

    def _accept_loop(self, listener: socket.socket) -> None:
        while not self._closed.is_set() and self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._spawn(self._connect, client)

    def _connect(self, client: socket.socket) -> None:
        self._track(client)
        while self._frozen.is_set() and not self._closed.is_set():
            self._closed.wait(POLL_SECONDS)  # a frozen server answers nothing, not even hello
        try:
            server = socket.create_connection(self.upstream, timeout=5)
        except OSError:
            self._reset(client)
            return
        self._track(server)
        self._spawn(self._pump, client, server)
        self._spawn(self._pump, server, client)

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(source, selectors.EVENT_READ)
            while not self._closed.is_set():
                if self._frozen.is_set() or not selector.select(POLL_SECONDS):
                    if self._frozen.is_set():
                        self._closed.wait(POLL_SECONDS)
                    continue
                try:
                    data = source.recv(65536)
                    if not data:
                        break
                    target.sendall(data)
                except OSError:
                    break
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _reset(self, sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()

    def freeze(self) -> None:
        self._frozen.set()

    def thaw(self) -> None:
        self._frozen.clear()

    def refuse(self) -> None:
        """Connection refused from now on; open connections are reset."""
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):  # stop listening now, not when accept() returns
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            self._reset(sock)

    def accept(self) -> None:
        if self._listener is None:
            self._listen()

    def close(self) -> None:
        self._closed.set()
        self.refuse()
        for thread in self._threads:
            thread.join(timeout=2)


@contextlib.contextmanager
def proxy_to(host: str, port: int) -> Iterator[TcpProxy]:
    proxy = TcpProxy(host, port).start()
    try:
        yield proxy
    finally:
        proxy.close()
