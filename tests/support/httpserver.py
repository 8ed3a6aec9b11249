"""A real threaded HTTP server on a loopback address for integration tests and benches.

Routes map a path to a handler that gets the live ``BaseHTTPRequestHandler``
(so a test can trickle bytes, send a gzip bomb, or redirect) or a static
:class:`Reply`. Every request that reaches the server is recorded in
``hits`` *before* the handler runs, which is what the SSRF tests count.
"""

from __future__ import annotations

import http.server
import socket
import ssl
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

Handler = Callable[[http.server.BaseHTTPRequestHandler], None]


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def __call__(self, h: http.server.BaseHTTPRequestHandler) -> None:
        h.send_response(self.status)
        names = {k.lower() for k in self.headers}
        for name, value in self.headers.items():
            h.send_header(name, value)
        if "content-length" not in names:
            h.send_header("Content-Length", str(len(self.body)))
        h.end_headers()
        if self.body and h.command != "HEAD":
            h.wfile.write(self.body)


@dataclass(frozen=True)
class Hit:
    method: str
    path: str
    headers: Mapping[str, str]
    client: str
    client_port: int


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that hang up (deadline cut-offs, refused redirects) are the point
        # of many tests; only report real handler bugs.
        if isinstance(sys.exc_info()[1], ConnectionError | ssl.SSLError | TimeoutError):
            return
        super().handle_error(request, client_address)


class LocalHTTPServer:
    """Start with ``with LocalHTTPServer() as srv:``; ``srv.url("/x")`` addresses it."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        quiet: bool = True,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        self.scheme = "https" if tls is not None else "http"
        self.routes: dict[str, Handler] = {}
        self.default: Handler | None = None
        self.hits: list[Hit] = []
        self._lock = threading.Lock()
        outer = self

        class _RequestHandler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # as real servers do on keep-alive connections

            def log_message(self, format: str, *args: Any) -> None:
                if not quiet:
                    super().log_message(format, *args)

            def _dispatch(self) -> None:
                path = self.path.split("?", 1)[0]
                with outer._lock:
                    outer.hits.append(
                        Hit(
                            self.command,
                            self.path,
                            dict(self.headers.items()),
                            str(self.client_address[0]),
                            int(self.client_address[1]),
                        )
                    )
                handler = outer.routes.get(path) or outer.default
                if handler is None:
                    Reply(404, {"Content-Type": "text/plain"}, b"no such route")(self)
                    return
                try:
                    handler(self)
                except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
                    self.close_connection = True

            do_GET = _dispatch
            do_HEAD = _dispatch
            do_POST = _dispatch

        family = socket.AF_INET6 if ":" in host else socket.AF_INET

        class _FamilyServer(_Server):
            address_family = family

        self._server = _FamilyServer((host, port), _RequestHandler)
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, kwargs={"poll_interval": 0.05})

    def url(self, path: str = "/", host: str | None = None) -> str:
        name = host or self.host
        if ":" in name and not name.startswith("["):
            name = f"[{name}]"
        return f"{self.scheme}://{name}:{self.port}{path}"

    def route(self, path: str, handler: Handler) -> None:
        self.routes[path] = handler

    def hit_count(self) -> int:
        with self._lock:
            return len(self.hits)

    def start(self) -> LocalHTTPServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> LocalHTTPServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def ipv6_loopback_available() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


@contextmanager
def serving(host: str = "127.0.0.1") -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer(host) as srv:
        yield srv
