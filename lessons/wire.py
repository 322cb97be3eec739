"""Small network tools for the lessons, on loopback only.

- ``Relay`` forwards TCP connections to a server and records every byte that crosses it, in
  both directions: exactly what anyone on the network path between client and server sees.
- ``TlsTerminatingProxy`` is a tiny stand-in for the load balancer or reverse proxy that many
  services sit behind: clients talk HTTPS to it, it talks plain HTTP to the app and says in
  ``X-Forwarded-Proto`` / ``X-Forwarded-For`` what the client used and who the client was.

Both listen on a free 127.0.0.1 port, work in background threads, and are always stopped: at
the end of their ``with`` block, by ``stop()``, or when the Python process exits.
"""

from __future__ import annotations

import atexit
import socket
import ssl
import threading
from types import TracebackType

TICK = 0.1  # seconds between looks at the stop flag
HEAD_LIMIT = 64 * 1024

_running: set[_Listener] = set()


class _Listener:
    """Accepts connections on a free loopback port and hands each to ``_handle`` in a thread."""

    kind = "listener"

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._socket: socket.socket | None = None
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def start(self) -> _Listener:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen()
        self._socket.settimeout(TICK)
        self.port = self._socket.getsockname()[1]
        _running.add(self)
        self._spawn(self._accept_loop, f"{self.kind}-{self.port}")
        return self

    def url(self, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._stopping.set()
        if self._socket is not None:
            self._socket.close()
        for thread in list(self._threads):
            if thread is not threading.current_thread():
                thread.join(timeout=5)
        _running.discard(self)

    @property
    def running(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    def __enter__(self) -> _Listener:
        return self if self.running else self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()

    def _spawn(self, target: object, name: str, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        assert self._socket is not None
        while not self._stopping.is_set():
            try:
                connection, peer = self._socket.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # the listening socket was closed by stop()
            self._spawn(self._serve_one, f"{self.kind}-{self.port}-{peer[1]}", connection, peer)

    def _serve_one(self, connection: socket.socket, peer: tuple[str, int]) -> None:
        try:
            self._handle(connection, peer)
        except OSError:
            pass  # a peer that hangs up, or a TLS handshake that fails, ends only its connection
        finally:
            connection.close()

    def _handle(self, connection: socket.socket, peer: tuple[str, int]) -> None:
        raise NotImplementedError

    def _connect_target(self, source: str | None = None) -> socket.socket:
        return socket.create_connection(self.target, timeout=10,
                                        source_address=(source, 0) if source else None)

    def _pipe(self, client: socket.socket, server: socket.socket) -> None:
        """Copy bytes both ways until either side closes (or stop() is called)."""
        done = threading.Event()
        for sock in (client, server):
            sock.settimeout(TICK)
        upstream = threading.Thread(target=self._pump, args=(client, server, "sent", done),
                                    daemon=True)
        upstream.start()
        self._pump(server, client, "received", done)
        upstream.join(timeout=5)
        # A server may answer and close before it has read the whole request (a refusal after
        # the head). What the client had sent by then crossed the network all the same: it is
        # recorded too, or whether a body "crossed" would depend on which thread ran first.
        self._drain(client, "sent")

    def _drain(self, source: socket.socket, direction: str) -> None:
        """Record what ``source`` has already sent, until it stops for a ``TICK`` or closes."""
        source.settimeout(TICK)
        while True:
            try:
                data = source.recv(65536)
            except OSError:  # TimeoutError included: nothing more is waiting
                return
            if not data:
                return
            self._record(direction, data)

    def _pump(self, source: socket.socket, sink: socket.socket, direction: str,
              done: threading.Event) -> None:
        while not done.is_set() and not self._stopping.is_set():
            try:
                data = source.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if not data:
                break
            self._record(direction, data)
            try:
                sink.sendall(data)
            except OSError:
                break
        done.set()

    def _record(self, direction: str, data: bytes) -> None:
        """Called with every chunk that crosses; the relay keeps them."""


class Relay(_Listener):
    """A TCP relay that records what passes through it: point a client at ``relay.port``
    instead of the server's port, and read ``relay.sent()`` afterwards."""

    kind = "relay"

    def __init__(self, target_host: str, target_port: int) -> None:
        super().__init__(target_host, target_port)
        self.chunks: list[tuple[str, bytes]] = []

    def start(self) -> Relay:
        super().start()
        return self

    def __enter__(self) -> Relay:
        return self if self.running else self.start()

    def _handle(self, connection: socket.socket, peer: tuple[str, int]) -> None:
        with self._connect_target() as server:
            self._pipe(connection, server)

    def _record(self, direction: str, data: bytes) -> None:
        with self._lock:
            self.chunks.append((direction, data))

    def sent(self) -> bytes:
        """Every byte clients sent to the server, in order."""
        with self._lock:
            return b"".join(data for direction, data in self.chunks if direction == "sent")

    def received(self) -> bytes:
        """Every byte the server sent back."""
        with self._lock:
            return b"".join(data for direction, data in self.chunks if direction == "received")

    def clear(self) -> None:
        with self._lock:
            self.chunks.clear()


FORWARDING_FIELDS = (b"forwarded", b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host",
                     b"x-forwarded-port", b"x-real-ip", b"connection")


def forwarded_head(head: bytes, client_address: str) -> bytes:
    """The request head as the proxy passes it on: whatever forwarding fields the client sent
    are dropped (a client does not get to say who it is), the proxy's own are added, and the
    connection to the app is closed after one response."""
    request_line, *fields = head.split(b"\r\n")
    kept = [field for field in fields
            if field and field.split(b":", 1)[0].strip().lower() not in FORWARDING_FIELDS]
    kept += [b"X-Forwarded-Proto: https",
             b"X-Forwarded-For: " + client_address.encode("ascii"),
             b"Connection: close"]
    return b"\r\n".join([request_line, *kept]) + b"\r\n\r\n"


class TlsTerminatingProxy(_Listener):
    """HTTPS on the outside, plain HTTP to the app, one request per connection to the app.

    ``source`` is the local address the proxy connects to the app from (default 127.0.0.1):
    on Linux, any 127.x.y.z works, which lets a test tell the proxy from other local clients.
    """

    kind = "tls-proxy"

    def __init__(self, target_host: str, target_port: int, context: ssl.SSLContext,
                 source: str | None = None) -> None:
        super().__init__(target_host, target_port)
        self.context = context
        self.source = source

    def start(self) -> TlsTerminatingProxy:
        super().start()
        return self

    def __enter__(self) -> TlsTerminatingProxy:
        return self if self.running else self.start()

    def url(self, scheme: str = "https") -> str:
        return super().url(scheme)

    def _handle(self, connection: socket.socket, peer: tuple[str, int]) -> None:
        connection.settimeout(10)
        with self.context.wrap_socket(connection, server_side=True) as tls:
            buffer = b""
            while b"\r\n\r\n" not in buffer:
                data = tls.recv(65536)
                if not data or len(buffer) > HEAD_LIMIT:
                    return
                buffer += data
            head, rest = buffer.split(b"\r\n\r\n", 1)
            with self._connect_target(self.source) as app:
                app.sendall(forwarded_head(head, peer[0]) + rest)
                self._pipe(tls, app)


def stop_all() -> None:
    for listener in list(_running):
        listener.stop()


atexit.register(stop_all)
